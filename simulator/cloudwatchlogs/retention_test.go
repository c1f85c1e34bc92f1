package cloudwatchlogs

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

func TestRetentionPolicy(t *testing.T) {
	ctx := context.Background()
	svc, c := newTestService(t)
	g, s := aws.String("/ret/g"), aws.String("s")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ev := func(ago time.Duration, msg string) types.InputLogEvent {
		return types.InputLogEvent{Timestamp: aws.Int64(now.Add(-ago).UnixMilli()), Message: aws.String(msg)}
	}
	// One put each: a batch may not span more than 24 hours.
	for _, e := range []types.InputLogEvent{ev(72*time.Hour, "three days"), ev(36*time.Hour, "a day and a half"), ev(time.Hour, "an hour")} {
		if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{e}}); err != nil {
			t.Fatal(err)
		}
	}

	_, err := c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(4)})
	wantAPIError(t, err, "InvalidParameterException", "1 validation error detected: Value '4' at 'retentionInDays' failed to satisfy constraint: "+
		"Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]")
	_, err = c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("missing"), RetentionInDays: aws.Int32(1)})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = c.DeleteRetentionPolicy(ctx, &cwl.DeleteRetentionPolicyInput{LogGroupName: aws.String("missing")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")

	if _, err := c.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	dg, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if err != nil || len(dg.LogGroups) != 1 || aws.ToInt32(dg.LogGroups[0].RetentionInDays) != 1 {
		t.Fatalf("describe: %v %+v", err, dg)
	}

	// Every read stops showing the expired events at once.
	messages := func() (fwd, back, filtered []string) {
		t.Helper()
		f, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, StartFromHead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s})
		if err != nil {
			t.Fatal(err)
		}
		fl, err := c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: g})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range f.Events {
			fwd = append(fwd, *e.Message)
		}
		for _, e := range b.Events {
			back = append(back, *e.Message)
		}
		for _, e := range fl.Events {
			filtered = append(filtered, *e.Message)
		}
		return fwd, back, filtered
	}
	fwd, back, filtered := messages()
	for _, got := range [][]string{fwd, back, filtered} {
		if len(got) != 1 || got[0] != "an hour" {
			t.Fatalf("with 1-day retention: forward %q backward %q filter %q", fwd, back, filtered)
		}
	}

	// Events older than the retention are rejected as expired.
	out, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{
		ev(25*time.Hour, "expired"), ev(2*time.Hour, "kept")}})
	if err != nil {
		t.Fatal(err)
	}
	if ri := out.RejectedLogEventsInfo; ri == nil || aws.ToInt32(ri.ExpiredLogEventEndIndex) != 1 || ri.TooOldLogEventEndIndex != nil {
		t.Fatalf("rejected %+v", ri)
	}

	// The sweeper deletes them from disk and from storedBytes.
	n, err := svc.store.purgeExpired(svc.nowMillis())
	if err != nil || n != 2 {
		t.Fatalf("purged %d: %v", n, err)
	}
	dg, err = c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if err != nil || aws.ToInt64(dg.LogGroups[0].StoredBytes) != int64(len("an hour")+len("kept")) {
		t.Fatalf("stored bytes after purge: %v %d", err, aws.ToInt64(dg.LogGroups[0].StoredBytes))
	}

	if _, err := c.DeleteRetentionPolicy(ctx, &cwl.DeleteRetentionPolicyInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	dg, err = c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if err != nil || dg.LogGroups[0].RetentionInDays != nil {
		t.Fatalf("after delete: %v %+v", err, dg.LogGroups[0])
	}
	if fwd, _, _ := messages(); len(fwd) != 2 {
		t.Fatalf("without retention: %q", fwd)
	}
}
