package cloudwatchlogs

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

func TestLogGroupTags(t *testing.T) {
	ctx := context.Background()
	_, c := newTestService(t)
	const arn = "arn:aws:logs:us-east-1:123456789012:log-group:/tagged"
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/tagged"), Tags: map[string]string{"team": "a"}}); err != nil {
		t.Fatal(err)
	}
	list := func(a string) map[string]string {
		t.Helper()
		out, err := c.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String(a)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Tags
	}
	if got := list(arn); !maps.Equal(got, map[string]string{"team": "a"}) {
		t.Fatalf("created with %v", got)
	}
	if _, err := c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"team": "b", "env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if got := list(arn); !maps.Equal(got, map[string]string{"team": "b", "env": "dev"}) {
		t.Fatalf("after tag: %v", got)
	}
	if _, err := c.UntagResource(ctx, &cwl.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"team", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if got := list(arn); !maps.Equal(got, map[string]string{"env": "dev"}) {
		t.Fatalf("after untag: %v", got)
	}

	// The deprecated by-name operations see the same tags.
	if _, err := c.TagLogGroup(ctx, &cwl.TagLogGroupInput{LogGroupName: aws.String("/tagged"), Tags: map[string]string{"x": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagLogGroup(ctx, &cwl.UntagLogGroupInput{LogGroupName: aws.String("/tagged"), Tags: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	old, err := c.ListTagsLogGroup(ctx, &cwl.ListTagsLogGroupInput{LogGroupName: aws.String("/tagged")})
	if err != nil || !maps.Equal(old.Tags, map[string]string{"x": "1"}) {
		t.Fatalf("by name: %v %v", err, old)
	}

	// Errors.
	_, err = c.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:/missing")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String("arn:aws:logs:eu-west-1:123456789012:log-group:/tagged"), Tags: map[string]string{"a": "b"}})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = c.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String("not an arn")})
	wantAPIError(t, err, "InvalidParameterException", "")
	// DescribeLogGroups' "arn" ends in ":*", which the resourceArn pattern refuses.
	_, err = c.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String(arn + ":*")})
	wantAPIError(t, err, "InvalidParameterException", "")
	_, err = c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"bad*key": "v"}})
	wantAPIError(t, err, "InvalidParameterException", "")
	_, err = c.TagLogGroup(ctx, &cwl.TagLogGroupInput{LogGroupName: aws.String("/missing"), Tags: map[string]string{"a": "b"}})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err = c.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(arn), Tags: many})
	wantAPIError(t, err, "TooManyTagsException", "A resource can have no more than 50 tags.")
	if got := list(arn); len(got) != 1 {
		t.Fatalf("a refused TagResource changed the tags: %v", got)
	}
}
