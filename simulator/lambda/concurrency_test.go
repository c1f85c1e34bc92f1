package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// running is how many invocations of fn hold a concurrency slot.
func (f *fixture) running(fn string) int {
	f.svc.mu.Lock()
	defer f.svc.mu.Unlock()
	return f.svc.functions[fn].running
}

func (f *fixture) ends(group string) int {
	n := 0
	for _, ev := range f.logs.group(group) {
		n += strings.Count(strings.Join(messages(ev), ""), "END RequestId")
	}
	return n
}

func TestConcurrencyLimits(t *testing.T) {
	f := newFixture(t, Config{AccountConcurrency: 2, PendingDelay: time.Millisecond})
	ctx := context.Background()
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("limited")})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("pooled"), Timeout: aws.Int32(15)})

	settings, err := f.client.GetAccountSettings(ctx, &awslambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if settings.AccountLimit.ConcurrentExecutions != 2 || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 2 || settings.AccountUsage.FunctionCount != 2 {
		t.Errorf("account settings %+v %+v", settings.AccountLimit, settings.AccountUsage)
	}
	_, err = f.client.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("limited"), ReservedConcurrentExecutions: aws.Int32(3)})
	apiError(t, err, "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [0].")
	_, err = f.client.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("limited"), ReservedConcurrentExecutions: aws.Int32(-1)})
	apiError(t, err, "ValidationException", "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0")
	_, err = f.client.GetFunctionConcurrency(ctx, &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("nope")})
	apiError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope")
	none, err := f.client.GetFunctionConcurrency(ctx, &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("limited")})
	if err != nil || none.ReservedConcurrentExecutions != nil {
		t.Errorf("no reservation: %v %v", none, err)
	}

	// Reserved 0: synchronous invokes are throttled, events wait in the queue.
	put, err := f.client.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("limited"), ReservedConcurrentExecutions: aws.Int32(0)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 0 {
		t.Fatalf("put 0: %v %v", put, err)
	}
	_, err = f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("limited")})
	apiError(t, err, "TooManyRequestsException", "Rate Exceeded.")
	resp, err := http.Post(f.url+"/2015-03-31/functions/limited/invocations", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var wire map[string]string
	_ = json.Unmarshal(body, &wire)
	if resp.StatusCode != 429 || resp.Header.Get("x-amzn-ErrorType") != "TooManyRequestsException" || resp.Header.Get("Retry-After") == "" ||
		wire["Reason"] != "ReservedFunctionConcurrentInvocationLimitExceeded" || wire["Type"] != "User" || wire["message"] != "Rate Exceeded." || len(wire) != 3 {
		t.Errorf("429 wire: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// Events queued while throttled: the first is older than its maximum age
	// when a slot frees, so it is dropped; the second runs.
	if _, err := f.client.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("limited"), MaximumEventAgeInSeconds: aws.Int32(60),
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{"stdout":1}`, `{"stderr":1}`} {
		out, err := f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("limited"), InvocationType: types.InvocationTypeEvent, Payload: []byte(p)})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("event: %v %v", out, err)
		}
	}
	f.svc.mu.Lock()
	queued := len(f.svc.functions["limited"].queue)
	if queued == 2 {
		f.svc.functions["limited"].queue[0].received = time.Now().Add(-61 * time.Second)
	}
	f.svc.mu.Unlock()
	if queued != 2 || f.ends("/aws/lambda/limited") != 0 {
		t.Fatalf("throttled events: %d queued, %d ran", queued, f.ends("/aws/lambda/limited"))
	}
	if _, err := f.client.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("limited"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the queued event to run", func() bool { return f.ends("/aws/lambda/limited") == 1 })
	for _, ev := range f.logs.group("/aws/lambda/limited") {
		if log := strings.Join(messages(ev), ""); !strings.Contains(log, "err 1\n") || strings.Contains(log, "out 1\n") {
			t.Errorf("the aged event ran, or the fresh one did not:\n%s", log)
		}
	}

	// Back-to-back invokes within a reservation of 1 reuse the one environment, never throttled.
	for i := 0; i < 3; i++ {
		if _, err := f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("limited"), Payload: []byte(`{"noop":true}`)}); err != nil {
			t.Fatalf("back-to-back invoke %d: %v", i, err)
		}
	}
	if n := len(containers(t, "limited")); n != 1 {
		t.Errorf("%d environments for sequential invokes, want 1", n)
	}

	// The unreserved pool is now 1: a second concurrent invoke of "pooled" is throttled.
	settings, _ = f.client.GetAccountSettings(ctx, &awslambda.GetAccountSettingsInput{})
	if aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 1 {
		t.Errorf("unreserved %d, want 1", aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions))
	}
	done := make(chan error, 1)
	go func() {
		// Long enough to hold the slot on a loaded machine (other test
		// packages run in parallel), never cut short: the test waits for it.
		_, err := f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("pooled"), Payload: []byte(`{"sleepMs":5000}`)})
		done <- err
	}()
	eventually(t, 15*time.Second, "the first invoke to hold its slot", func() bool { return f.running("pooled") == 1 })
	_, err = f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("pooled")})
	apiError(t, err, "TooManyRequestsException", "Rate Exceeded.")
	var tm *types.TooManyRequestsException
	if errors.As(err, &tm) && tm.Reason != types.ThrottleReasonConcurrentInvocationLimitExceeded {
		t.Errorf("reason %s", tm.Reason)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if _, err := f.client.DeleteFunctionConcurrency(ctx, &awslambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("limited")}); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.GetFunctionConcurrency(ctx, &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("limited")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Errorf("after delete: %v %v", got, err)
	}
}
