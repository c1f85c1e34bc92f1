package lambda

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// With a data directory, functions and their settings survive a restart.
func TestFunctionsSurviveRestart(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), PendingDelay: time.Millisecond}
	logs := &memLogs{}
	f := startFixture(t, cfg, logs)
	ctx := context.Background()
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("kept"), Tags: map[string]string{"k": "v"}, Timeout: aws.Int32(9)})
	if _, err := f.client.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("kept"), ReservedConcurrentExecutions: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("kept"), MaximumRetryAttempts: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	before, err := f.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	f.close()

	g := startFixture(t, cfg, logs)
	after, err := g.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if after.Configuration.State != types.StateActive || aws.ToString(after.Configuration.RevisionId) != aws.ToString(before.Configuration.RevisionId) ||
		aws.ToInt32(after.Configuration.Timeout) != 9 || after.Tags["k"] != "v" || aws.ToString(after.Code.ResolvedImageUri) != aws.ToString(before.Code.ResolvedImageUri) {
		t.Errorf("after restart: %+v %v %+v", after.Configuration, after.Tags, after.Code)
	}
	conc, err := g.client.GetFunctionConcurrency(ctx, &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("kept")})
	if err != nil || aws.ToInt32(conc.ReservedConcurrentExecutions) != 5 {
		t.Errorf("concurrency after restart: %v %v", conc, err)
	}
	eic, err := g.client.GetFunctionEventInvokeConfig(ctx, &awslambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("kept")})
	if err != nil || aws.ToInt32(eic.MaximumRetryAttempts) != 1 {
		t.Errorf("event invoke config after restart: %v %v", eic, err)
	}
	if out := invokeSync(t, g, "kept", `{}`); out.FunctionError != nil {
		t.Errorf("invoke after restart: %s", out.Payload)
	}
	if _, err := g.client.DeleteFunction(ctx, &awslambda.DeleteFunctionInput{FunctionName: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	g.close()
	h := startFixture(t, cfg, logs)
	_, err = h.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("kept")})
	apiError(t, err, "ResourceNotFoundException", "")
}
