package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func waitUpdated(t *testing.T, f *fixture, fn string) {
	t.Helper()
	w := awslambda.NewFunctionUpdatedV2Waiter(f.client, func(o *awslambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(context.Background(), &awslambda.GetFunctionInput{FunctionName: aws.String(fn)}, 30*time.Second); err != nil {
		t.Fatalf("wait for update: %v", err)
	}
}

func TestUpdateFunctionConfiguration(t *testing.T) {
	// A long enough update that an invoke surely lands inside it.
	f := newFixture(t, Config{PendingDelay: 1500 * time.Millisecond})
	ctx := context.Background()
	f.create(t, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("upd"),
		Environment:  &types.Environment{Variables: map[string]string{"FOO": "bar"}},
	})
	var before echo
	_ = json.Unmarshal(invokeSync(t, f, "upd", `{}`).Payload, &before)
	got, err := f.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("upd")})
	if err != nil {
		t.Fatal(err)
	}
	rev := aws.ToString(got.Configuration.RevisionId)

	_, err = f.client.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), MemorySize: aws.Int32(100),
	})
	apiError(t, err, "ValidationException", "1 validation error detected: Value '100' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128")
	_, err = f.client.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), Environment: &types.Environment{Variables: map[string]string{"AWS_LAMBDA_RUNTIME_API": "x"}},
	})
	apiError(t, err, "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_LAMBDA_RUNTIME_API")
	_, err = f.client.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("nope"), Timeout: aws.Int32(5)})
	apiError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope")
	_, err = f.client.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), Timeout: aws.Int32(5), RevisionId: aws.String("stale"),
	})
	apiError(t, err, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

	up, err := f.client.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("upd"), RevisionId: aws.String(rev), Timeout: aws.Int32(7),
		Environment:   &types.Environment{Variables: map[string]string{"FOO": "baz"}},
		LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.LastUpdateStatus != types.LastUpdateStatusInProgress || up.State != types.StateActive || aws.ToString(up.RevisionId) == rev ||
		aws.ToInt32(up.Timeout) != 7 || up.Environment.Variables["FOO"] != "baz" || up.LastUpdateStatusReasonCode != "Creating" {
		t.Errorf("update answer: %s %s rev %s timeout %d reason %v", up.LastUpdateStatus, up.State, aws.ToString(up.RevisionId), aws.ToInt32(up.Timeout), up.LastUpdateStatusReasonCode)
	}
	if up.LoggingConfig.LogFormat != types.LogFormatJson || up.LoggingConfig.SystemLogLevel != types.SystemLogLevelInfo {
		t.Errorf("logging config %+v", up.LoggingConfig)
	}
	// While the update runs: invokes use the previous configuration, other changes are refused.
	var during echo
	_ = json.Unmarshal(invokeSync(t, f, "upd", `{}`).Payload, &during)
	if during.env("FOO") != "bar" || during.Pid != before.Pid {
		t.Errorf("invoke during the update ran FOO=%q in pid %d (before: %d)", during.env("FOO"), during.Pid, before.Pid)
	}
	_, err = f.client.UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("upd"), Timeout: aws.Int32(9)})
	apiError(t, err, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:upd")
	_, err = f.client.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ImageUri: aws.String(handlerImage)})
	apiError(t, err, "ResourceConflictException", "")

	waitUpdated(t, f, "upd")
	done, err := f.client.GetFunctionConfiguration(ctx, &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("upd")})
	if err != nil {
		t.Fatal(err)
	}
	if done.LastUpdateStatus != types.LastUpdateStatusSuccessful || aws.ToString(done.RevisionId) == aws.ToString(up.RevisionId) || done.LastUpdateStatusReason != nil {
		t.Errorf("after update: %s rev %s reason %v", done.LastUpdateStatus, aws.ToString(done.RevisionId), done.LastUpdateStatusReason)
	}
	// The old warm environment retired; the next invoke is a cold start with the new configuration.
	eventually(t, 10*time.Second, "old environment retired", func() bool { return len(containers(t, "upd")) == 0 })
	out := invokeSync(t, f, "upd", `{}`)
	var after echo
	_ = json.Unmarshal(out.Payload, &after)
	if after.env("FOO") != "baz" || after.Count != 1 {
		t.Errorf("after update: FOO=%q count %d", after.env("FOO"), after.Count)
	}
	// LogFormat JSON: Lambda's own lines are platform records.
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	var types_ []string
	for _, l := range strings.Split(strings.TrimSpace(string(tail)), "\n") {
		var rec struct {
			Time, Type string
			Record     map[string]any
		}
		if json.Unmarshal([]byte(l), &rec) == nil && strings.HasPrefix(rec.Type, "platform.") {
			types_ = append(types_, rec.Type)
			if rec.Type == "platform.report" {
				m, _ := rec.Record["metrics"].(map[string]any)
				if rec.Record["status"] != "success" || m["initDurationMs"] == nil || m["memorySizeMB"] != float64(128) {
					t.Errorf("report record %s", l)
				}
			}
		}
	}
	if strings.Join(types_, ",") != "platform.start,platform.runtimeDone,platform.report" || strings.Contains(string(tail), "REPORT RequestId") {
		t.Errorf("JSON log tail:\n%s", tail)
	}
}

func TestUpdateFunctionCode(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	v2 := registryHost + "/handler:v2"
	if err := pushHandlerImage(v2, "amd64", "IMAGE_VERSION=2"); err != nil {
		t.Fatal(err)
	}
	created := f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("code")})

	_, err := f.client.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{FunctionName: aws.String("code")})
	apiError(t, err, "InvalidParameterValueException", "Please provide ImageUri when updating a function with packageType Image.")
	bad := registryHost + "/nope:latest"
	_, err = f.client.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ImageUri: aws.String(bad)})
	apiError(t, err, "InvalidParameterValueException", "Source image "+bad+" is not valid. Provide a valid source image.")
	_, err = f.client.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{
		FunctionName: aws.String("code"), ImageUri: aws.String(v2), Architectures: []types.Architecture{"sparc"},
	})
	apiError(t, err, "ValidationException", "")
	dry, err := f.client.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ImageUri: aws.String(v2), DryRun: true})
	if err != nil || aws.ToString(dry.CodeSha256) == aws.ToString(created.CodeSha256) || dry.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("DryRun: %v %+v", err, dry)
	}

	up, err := f.client.UpdateFunctionCode(ctx, &awslambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ImageUri: aws.String(v2)})
	if err != nil {
		t.Fatal(err)
	}
	if up.LastUpdateStatus != types.LastUpdateStatusInProgress || aws.ToString(up.CodeSha256) == aws.ToString(created.CodeSha256) {
		t.Errorf("update code answer: %s sha %s", up.LastUpdateStatus, aws.ToString(up.CodeSha256))
	}
	waitUpdated(t, f, "code")
	got, err := f.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("code")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Code.ImageUri) != v2 || !strings.HasSuffix(aws.ToString(got.Code.ResolvedImageUri), "@sha256:"+aws.ToString(up.CodeSha256)) {
		t.Errorf("code after update: %+v", got.Code)
	}
	var e echo
	_ = json.Unmarshal(invokeSync(t, f, "code", `{}`).Payload, &e)
	if e.env("IMAGE_VERSION") != "2" {
		t.Errorf("invoke after code update ran the old image: %v", e.Env)
	}
}

// A function whose image disappears before it is provisioned fails, as
// AWS reports an image it cannot use.
func TestFailedStateWhenImageDeleted(t *testing.T) {
	f := newFixture(t, Config{PendingDelay: 500 * time.Millisecond})
	ctx := context.Background()
	doomed := registryHost + "/doomed:latest"
	if err := pushHandlerImage(doomed, "amd64", "DOOMED=1"); err != nil {
		t.Fatal(err)
	}
	out, err := f.client.CreateFunction(ctx, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("doomed"), Role: aws.String(testRole), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String(doomed)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(registryHost+"/doomed@sha256:"+aws.ToString(out.CodeSha256), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref); err != nil {
		t.Fatal(err)
	}
	w := awslambda.NewFunctionActiveV2Waiter(f.client, func(o *awslambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("doomed")}, 30*time.Second); err == nil {
		t.Fatal("FunctionActiveV2 waiter succeeded for a function whose image is gone")
	}
	got, err := f.client.GetFunctionConfiguration(ctx, &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("doomed")})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != types.StateFailed || got.StateReasonCode != types.StateReasonCodeImageDeleted || aws.ToString(got.StateReason) == "" {
		t.Errorf("state %s %s %q", got.State, got.StateReasonCode, aws.ToString(got.StateReason))
	}
	_, err = f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("doomed")})
	apiError(t, err, "ResourceConflictException", "The operation cannot be performed at this time. The function is currently in the following state: Failed")
}

// An image whose architecture is not the function's fails at invoke with
// Runtime.InvalidEntrypoint, as on AWS; one the local engine cannot run is
// refused the same way, never run as if it were fine.
func TestArchitectureMismatch(t *testing.T) {
	f := newFixture(t, Config{PendingDelay: time.Millisecond})
	armImage := registryHost + "/handler:arm64"
	if err := pushHandlerImage(armImage, "arm64"); err != nil {
		t.Fatal(err)
	}
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("arm-on-x86"), Code: &types.FunctionCode{ImageUri: aws.String(armImage)}})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("x86-on-arm"), Architectures: []types.Architecture{types.ArchitectureArm64}})
	f.create(t, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("arm-on-arm"), Architectures: []types.Architecture{types.ArchitectureArm64},
		Code: &types.FunctionCode{ImageUri: aws.String(armImage)},
	})
	for fn, wantSuffix := range map[string]string{
		"arm-on-x86": "Error: fork/exec /handler: exec format error",
		"x86-on-arm": "Error: fork/exec /handler: exec format error",
		"arm-on-arm": "(the simulator's Docker engine is linux/amd64 and does not run linux/arm64 images)",
	} {
		out := invokeSync(t, f, fn, `{}`)
		var body struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal(out.Payload, &body)
		if aws.ToString(out.FunctionError) != "Unhandled" || body.ErrorType != "Runtime.InvalidEntrypoint" ||
			!strings.HasPrefix(body.ErrorMessage, "RequestId: ") || !strings.HasSuffix(body.ErrorMessage, wantSuffix) {
			t.Errorf("%s: %v %s", fn, out.FunctionError, out.Payload)
		}
		if n := len(containers(t, fn)); n != 0 {
			t.Errorf("%s: %d containers started", fn, n)
		}
	}
}
