package cloudwatchlogs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/sockerless-lambda/sockerless/simulator/lambda"
)

func newTestService(t *testing.T) (*Service, *cwl.Client) {
	t.Helper()
	svc, err := New(Config{Region: "us-east-1", AccountID: "123456789012", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	// Mounted the way simulator/server.go mounts it.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		service, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		if service != "Logs_20140328" {
			http.Error(w, "bad target", http.StatusBadRequest)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			http.Error(w, "bad content type "+ct, http.StatusBadRequest)
			return
		}
		svc.Handle(w, r, op)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := cwl.New(cwl.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	return svc, client
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s %q, got %v", code, msg, err)
	}
	if ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Fatalf("want %s %q, got %s %q", code, msg, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func TestGroupsAndStreams(t *testing.T) {
	ctx := context.Background()
	_, c := newTestService(t)

	_, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/aws/lambda/f1")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/aws/lambda/f1")})
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("duplicate group: %v", err)
	}
	wantAPIError(t, err, "ResourceAlreadyExistsException", "The specified log group already exists")
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("bad name!")})
	wantAPIError(t, err, "InvalidParameterException", "")
	_, err = c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(strings.Repeat("a", 513))})
	wantAPIError(t, err, "InvalidParameterException", "")

	for i := range 7 {
		if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(fmt.Sprintf("/app/g%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	// Paging by prefix.
	var names []string
	var token *string
	for {
		out, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/app/"), Limit: aws.Int32(3), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range out.LogGroups {
			names = append(names, *g.LogGroupName)
			if *g.Arn != "arn:aws:logs:us-east-1:123456789012:log-group:"+*g.LogGroupName+":*" {
				t.Fatalf("arn %s", *g.Arn)
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if len(names) != 7 || names[0] != "/app/g0" || names[6] != "/app/g6" {
		t.Fatalf("groups %v", names)
	}
	_, err = c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{NextToken: aws.String("%%%")})
	wantAPIError(t, err, "InvalidParameterException", "The specified nextToken is invalid.")

	g := aws.String("/aws/lambda/f1")
	_, err = c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("nope"), LogStreamName: aws.String("s")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("a:b")})
	wantAPIError(t, err, "InvalidParameterException", "")
	for _, s := range []string{"s-c", "s-a", "s-b", "other"} {
		if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String(s)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("s-a")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", "The specified log stream already exists")

	now := time.Now().UnixMilli()
	put := func(stream string, ts int64, msg string) {
		t.Helper()
		_, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: aws.String(stream),
			LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(ts), Message: aws.String(msg)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("s-a", now-3000, "a")
	put("s-b", now-1000, "b")
	put("s-c", now-2000, "c")

	streamNames := func(in *cwl.DescribeLogStreamsInput) []string {
		t.Helper()
		var out []string
		p := cwl.NewDescribeLogStreamsPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.LogStreams {
				out = append(out, *s.LogStreamName)
			}
		}
		return out
	}
	if got := fmt.Sprint(streamNames(&cwl.DescribeLogStreamsInput{LogGroupName: g, LogStreamNamePrefix: aws.String("s-"), Limit: aws.Int32(2)})); got != "[s-a s-b s-c]" {
		t.Fatalf("by name: %s", got)
	}
	if got := fmt.Sprint(streamNames(&cwl.DescribeLogStreamsInput{LogGroupName: g, OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(1)})); got != "[s-b s-c s-a other]" {
		t.Fatalf("by time desc: %s", got)
	}
	if got := fmt.Sprint(streamNames(&cwl.DescribeLogStreamsInput{LogGroupName: g, Descending: aws.Bool(true)})); got != "[s-c s-b s-a other]" {
		t.Fatalf("by name desc: %s", got)
	}
	out, err := c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, LogStreamNamePrefix: aws.String("s-a")})
	if err != nil {
		t.Fatal(err)
	}
	st := out.LogStreams[0]
	if *st.FirstEventTimestamp != now-3000 || *st.LastEventTimestamp != now-3000 || st.LastIngestionTime == nil ||
		*st.Arn != "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f1:log-stream:s-a" {
		t.Fatalf("stream %+v", st)
	}
	_, err = c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, OrderBy: types.OrderByLastEventTime, LogStreamNamePrefix: aws.String("s")})
	wantAPIError(t, err, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
	_, err = c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, Limit: aws.Int32(51)})
	wantAPIError(t, err, "InvalidParameterException", "")

	if _, err := c.DeleteLogStream(ctx, &cwl.DeleteLogStreamInput{LogGroupName: g, LogStreamName: aws.String("s-a")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteLogStream(ctx, &cwl.DeleteLogStreamInput{LogGroupName: g, LogStreamName: aws.String("s-a")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	if _, err := c.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: g})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestPutLogEventsValidation(t *testing.T) {
	ctx := context.Background()
	_, c := newTestService(t)
	g, s := aws.String("g"), aws.String("s")
	ev := func(ts int64, msg string) types.InputLogEvent {
		return types.InputLogEvent{Timestamp: aws.Int64(ts), Message: aws.String(msg)}
	}
	now := time.Now().UnixMilli()
	_, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{ev(now, "x")}})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{ev(now, "x")}})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{ev(now, "b"), ev(now-1, "a")}})
	wantAPIError(t, err, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.")

	many := make([]types.InputLogEvent, 10001)
	for i := range many {
		many[i] = ev(now, "x")
	}
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: many})
	wantAPIError(t, err, "InvalidParameterException", "")

	// 1,048,576 bytes counts 26 per event: 4 events of 262,118 bytes fit exactly, one byte more does not.
	big := strings.Repeat("x", 262118)
	exact := []types.InputLogEvent{ev(now, big), ev(now, big), ev(now, big), ev(now, big)}
	if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: exact}); err != nil {
		t.Fatalf("exactly 1 MiB: %v", err)
	}
	exact[3] = ev(now, big+"x")
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: exact})
	wantAPIError(t, err, "InvalidParameterException", "Upload too large: 1048577 bytes exceeds limit of 1048576")

	old, future := now-15*24*3600*1000, now+3*3600*1000
	_, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s,
		LogEvents: []types.InputLogEvent{ev(now-25*3600*1000, "a"), ev(now, "b")}})
	wantAPIError(t, err, "InvalidParameterException", "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	out, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s,
		LogEvents: []types.InputLogEvent{ev(old, "old1"), ev(old+1, "old2"), ev(old+2*3600*1000, "old3")}})
	if err != nil {
		t.Fatal(err)
	}
	if ri := out.RejectedLogEventsInfo; ri == nil || aws.ToInt32(ri.TooOldLogEventEndIndex) != 3 || ri.TooNewLogEventStartIndex != nil {
		t.Fatalf("rejected %+v", ri)
	}
	out, err = c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s,
		LogEvents: []types.InputLogEvent{ev(now, "ok"), ev(future, "new")}})
	if err != nil {
		t.Fatal(err)
	}
	if ri := out.RejectedLogEventsInfo; ri == nil || aws.ToInt32(ri.TooNewLogEventStartIndex) != 1 || ri.TooOldLogEventEndIndex != nil {
		t.Fatalf("rejected %+v", ri)
	}
	// The four 262,118-byte events fill the 1 MB default page on their own.
	got, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Events); n != 4 {
		t.Fatalf("%d events in the first page", n)
	}
	got, err = c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, NextToken: got.NextForwardToken})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Events); n != 1 || *got.Events[0].Message != "ok" {
		t.Fatalf("%d events after the first page", n)
	}
}

func putMany(t *testing.T, c *cwl.Client, g, s string, n int, start int64) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 10000 {
		batch := make([]types.InputLogEvent, 0, 10000)
		for j := i; j < n && j < i+10000; j++ {
			// Two events per millisecond: ties must keep arrival order.
			batch = append(batch, types.InputLogEvent{Timestamp: aws.Int64(start + int64(j/2)), Message: aws.String(fmt.Sprintf("line %d", j))})
		}
		if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: &s, LogEvents: batch}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetLogEventsPaging(t *testing.T) {
	ctx := context.Background()
	_, c := newTestService(t)
	g, s := "g", "s"
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: &g}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: &g, LogStreamName: &s}); err != nil {
		t.Fatal(err)
	}
	const n = 25000
	start := time.Now().Add(-time.Hour).UnixMilli()
	t0 := time.Now()
	putMany(t, c, g, s, n, start)
	t.Logf("put %d events in %v", n, time.Since(t0))

	// Forward from the head with the SDK's paginator, which stops when the
	// token repeats.
	t0 = time.Now()
	next := 0
	p := cwl.NewGetLogEventsPaginator(c, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, StartFromHead: aws.Bool(true), Limit: aws.Int32(3000)},
		func(o *cwl.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var lastForward string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if page.NextForwardToken == nil || page.NextBackwardToken == nil {
			t.Fatal("tokens missing")
		}
		if !strings.HasPrefix(*page.NextForwardToken, "f/") || !strings.HasPrefix(*page.NextBackwardToken, "b/") {
			t.Fatalf("tokens %s %s", *page.NextForwardToken, *page.NextBackwardToken)
		}
		for _, e := range page.Events {
			if want := fmt.Sprintf("line %d", next); *e.Message != want {
				t.Fatalf("got %q want %q", *e.Message, want)
			}
			next++
		}
		lastForward = *page.NextForwardToken
	}
	if next != n {
		t.Fatalf("read %d of %d", next, n)
	}
	t.Logf("read %d events forward in %v", n, time.Since(t0))

	// At the end, the same token comes back; a new event then appears.
	end, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, NextToken: &lastForward})
	if err != nil {
		t.Fatal(err)
	}
	if len(end.Events) != 0 || *end.NextForwardToken != lastForward {
		t.Fatalf("end of stream: %d events, token %s vs %s", len(end.Events), *end.NextForwardToken, lastForward)
	}
	putMany(t, c, g, "s", 0, 0)
	if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: &s,
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String("tail")}}}); err != nil {
		t.Fatal(err)
	}
	tail, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, NextToken: &lastForward, StartFromHead: aws.Bool(true)})
	if err != nil || len(tail.Events) != 1 || *tail.Events[0].Message != "tail" {
		t.Fatalf("tail: %v %+v", err, tail)
	}

	// Default (startFromHead false): the newest events, then backward.
	t0 = time.Now()
	latest, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, Limit: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(latest.Events) != 10 || *latest.Events[9].Message != "tail" || *latest.Events[8].Message != "line 24999" {
		t.Fatalf("latest %d", len(latest.Events))
	}
	back := 0
	tok := latest.NextBackwardToken
	for {
		page, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, NextToken: tok, Limit: aws.Int32(10000)})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 0 && *page.Events[len(page.Events)-1].Message != fmt.Sprintf("line %d", n-10-back) {
			t.Fatalf("backward page ends %q", *page.Events[len(page.Events)-1].Message)
		}
		back += len(page.Events)
		if *page.NextBackwardToken == *tok {
			break
		}
		tok = page.NextBackwardToken
	}
	if back != n-9 {
		t.Fatalf("backward read %d", back)
	}
	t.Logf("read backward in %v", time.Since(t0))

	// Time window: [start+100, start+200) holds 200 events.
	w, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, StartFromHead: aws.Bool(true),
		StartTime: aws.Int64(start + 100), EndTime: aws.Int64(start + 200)})
	if err != nil || len(w.Events) != 200 || *w.Events[0].Message != "line 200" {
		t.Fatalf("window: %v %d", err, len(w.Events))
	}

	_, err = c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, Limit: aws.Int32(10001)})
	wantAPIError(t, err, "InvalidParameterException", "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000")
	for _, bad := range []string{"garbage", "f/123", "x/00000000000000000000000000000000000000000000000000000000/s"} {
		_, err = c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, NextToken: aws.String(bad)})
		wantAPIError(t, err, "InvalidParameterException", "The specified nextToken is invalid.")
	}
	_, err = c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: aws.String("missing")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")

	// An empty stream still answers both tokens, and a forward poll sees
	// the first event once written.
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: &g, LogStreamName: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}
	e0, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: aws.String("empty")})
	if err != nil || e0.NextForwardToken == nil || e0.NextBackwardToken == nil {
		t.Fatalf("empty: %v", err)
	}
	if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: aws.String("empty"),
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String("first")}}}); err != nil {
		t.Fatal(err)
	}
	e1, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: aws.String("empty"), NextToken: e0.NextForwardToken})
	if err != nil || len(e1.Events) != 1 {
		t.Fatalf("poll after empty: %v %d", err, len(e1.Events))
	}
}

func TestFilterLogEvents(t *testing.T) {
	ctx := context.Background()
	svc, c := newTestService(t)
	g := "/aws/lambda/fn"
	now := time.Now().UnixMilli()
	// Two environments' streams, interleaved in time.
	for i := range 10 {
		stream := fmt.Sprintf("2024/01/01/[$LATEST]env%d", i%2)
		msg := fmt.Sprintf("INFO request %d done", i)
		if i%3 == 0 {
			msg = fmt.Sprintf("ERROR request %d failed: disk full", i)
		}
		if err := svc.Append(g, stream, []lambda.LogEvent{{Timestamp: now - 100 + int64(i), Message: msg}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Append(g, "other", []lambda.LogEvent{{Timestamp: now, Message: "ERROR elsewhere"}}); err != nil {
		t.Fatal(err)
	}

	filter := func(in *cwl.FilterLogEventsInput) []types.FilteredLogEvent {
		t.Helper()
		in.LogGroupName = &g
		var out []types.FilteredLogEvent
		p := cwl.NewFilterLogEventsPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Events...)
		}
		return out
	}
	all := filter(&cwl.FilterLogEventsInput{Limit: aws.Int32(3)})
	if len(all) != 11 {
		t.Fatalf("all: %d", len(all))
	}
	ids := map[string]bool{}
	for i, e := range all {
		if i > 0 && *e.Timestamp < *all[i-1].Timestamp {
			t.Fatal("not interleaved by time")
		}
		if e.EventId == nil || e.LogStreamName == nil || ids[*e.EventId] {
			t.Fatalf("event %+v", e)
		}
		ids[*e.EventId] = true
	}
	if got := filter(&cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("2024/"), FilterPattern: aws.String("ERROR")}); len(got) != 4 {
		t.Fatalf("ERROR in prefix: %d", len(got))
	}
	if got := filter(&cwl.FilterLogEventsInput{FilterPattern: aws.String(`"disk full" -request`)}); len(got) != 0 {
		t.Fatalf("phrase and exclusion: %d", len(got))
	}
	if got := filter(&cwl.FilterLogEventsInput{FilterPattern: aws.String(`ERROR -"disk full"`)}); len(got) != 1 || *got[0].LogStreamName != "other" {
		t.Fatalf("exclusion: %v", got)
	}
	if got := filter(&cwl.FilterLogEventsInput{FilterPattern: aws.String(`INFO done`), LogStreamNames: []string{"2024/01/01/[$LATEST]env1"}}); len(got) != 3 {
		t.Fatalf("stream names: %d", len(got))
	}
	if got := filter(&cwl.FilterLogEventsInput{StartTime: aws.Int64(now - 95), EndTime: aws.Int64(now - 92)}); len(got) != 3 {
		t.Fatalf("time window: %d", len(got))
	}
	_, err := c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: &g, NextToken: aws.String("!!")})
	wantAPIError(t, err, "InvalidParameterException", "The specified nextToken is invalid.")
	_, err = c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("missing")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestAppendKeepsWriteOrderAndPersists(t *testing.T) {
	dir := t.TempDir()
	svc, err := New(Config{Region: "us-east-1", AccountID: "123456789012", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.EnsureLogStream("/aws/lambda/x", "s"); err != nil {
		t.Fatal(err)
	}
	if err := svc.EnsureLogGroup("/aws/lambda/x"); err != nil {
		t.Fatal(err)
	}
	// A line stamped earlier but written later still reads back last.
	if err := svc.Append("/aws/lambda/x", "s", []lambda.LogEvent{{Timestamp: 2000, Message: "one"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Append("/aws/lambda/x", "s", []lambda.LogEvent{{Timestamp: 1000, Message: "two"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	svc, err = New(Config{Region: "us-east-1", AccountID: "123456789012", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ev, err := svc.store.readEvents("/aws/lambda/x", "s", evKey{}, maxKey, 0, true, 10, maxPageBytes)
	if err != nil || len(ev) != 2 || ev[0].message != "one" || ev[1].message != "two" {
		t.Fatalf("%v %+v", err, ev)
	}
}

func BenchmarkAppend(b *testing.B) {
	svc, err := New(Config{Region: "us-east-1", AccountID: "123456789012", DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	batch := make([]lambda.LogEvent, 100)
	for i := range batch {
		batch[i] = lambda.LogEvent{Timestamp: time.Now().UnixMilli(), Message: "a typical log line of moderate length"}
	}
	for b.Loop() {
		if err := svc.Append("g", "s", batch); err != nil {
			b.Fatal(err)
		}
	}
}
