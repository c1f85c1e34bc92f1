package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/docker/docker/api/types/container"
)

const testRole = "arn:aws:iam::123456789012:role/lambda-role"

// create makes an Image function and waits until it is Active.
func (f *fixture) create(t testing.TB, in *awslambda.CreateFunctionInput) *awslambda.CreateFunctionOutput {
	t.Helper()
	ctx := context.Background()
	if in.Role == nil {
		in.Role = aws.String(testRole)
	}
	if in.Code == nil {
		in.Code = &types.FunctionCode{ImageUri: aws.String(handlerImage)}
	}
	in.PackageType = types.PackageTypeImage
	out, err := f.client.CreateFunction(ctx, in)
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	w := awslambda.NewFunctionActiveV2Waiter(f.client, func(o *awslambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &awslambda.GetFunctionInput{FunctionName: in.FunctionName}, 30*time.Second); err != nil {
		t.Fatalf("wait for Active: %v", err)
	}
	return out
}

type echo struct {
	Count        int
	Pid          int
	UID, GID     int
	Args         []string
	Cwd          string
	Env          []string
	TmpWritable  bool
	RootWritable bool
	Deadline     string
	Arn          string
	Trace        string
}

func (e echo) env(k string) string {
	for _, kv := range e.Env {
		if strings.HasPrefix(kv, k+"=") {
			return kv[len(k)+1:]
		}
	}
	return ""
}

func invokeSync(t *testing.T, f *fixture, fn, payload string) *awslambda.InvokeOutput {
	t.Helper()
	out, err := f.client.Invoke(context.Background(), &awslambda.InvokeInput{
		FunctionName: aws.String(fn), Payload: []byte(payload), LogType: types.LogTypeTail,
	})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return out
}

func apiError(t *testing.T, err error, code string, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Errorf("message = %q\nwant      %q", ae.ErrorMessage(), msg)
	}
}

func messages(events []LogEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Message
	}
	return out
}

var streamRE = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`)

func TestCreateInvokeWarm(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	out, err := f.client.CreateFunction(ctx, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("echo"),
		Role:         aws.String(testRole),
		PackageType:  types.PackageTypeImage,
		Code:         &types.FunctionCode{ImageUri: aws.String(handlerImage)},
		Environment:  &types.Environment{Variables: map[string]string{"FOO": "bar"}},
		Tags:         map[string]string{"owner": "test"},
		MemorySize:   aws.Int32(256),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != types.StatePending || out.StateReasonCode != types.StateReasonCodeCreating || out.LastUpdateStatus != "" {
		t.Errorf("create: State %s %s LastUpdateStatus %q", out.State, out.StateReasonCode, out.LastUpdateStatus)
	}
	if *out.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:echo" || out.LoggingConfig.LogGroup == nil || *out.LoggingConfig.LogGroup != "/aws/lambda/echo" {
		t.Errorf("create: arn %s logging %+v", *out.FunctionArn, out.LoggingConfig)
	}
	_, err = f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("echo")})
	apiError(t, err, "ResourceConflictException", "The operation cannot be performed at this time. The function is currently in the following state: Pending")

	w := awslambda.NewFunctionActiveV2Waiter(f.client, func(o *awslambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("echo")}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: out.FunctionArn})
	if err != nil {
		t.Fatal(err)
	}
	if got.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful || *got.Configuration.RevisionId == *out.RevisionId {
		t.Errorf("active: %s revision %s", got.Configuration.LastUpdateStatus, *got.Configuration.RevisionId)
	}
	if *got.Code.RepositoryType != "ECR" || !strings.HasPrefix(*got.Code.ResolvedImageUri, registryHost+"/handler@sha256:") || got.Tags["owner"] != "test" {
		t.Errorf("code %+v tags %v", got.Code, got.Tags)
	}

	start := time.Now()
	inv := invokeSync(t, f, "echo", `{"stdout":2}`)
	t.Logf("cold invoke: %v", time.Since(start))
	if inv.StatusCode != 200 || inv.FunctionError != nil || *inv.ExecutedVersion != "$LATEST" {
		t.Fatalf("invoke: %d %v %s", inv.StatusCode, inv.FunctionError, inv.Payload)
	}
	var first echo
	if err := json.Unmarshal(inv.Payload, &first); err != nil {
		t.Fatalf("payload %s: %v", inv.Payload, err)
	}
	if first.UID != 993 || first.GID != 990 || !first.TmpWritable || first.RootWritable {
		t.Errorf("sandbox: uid %d gid %d tmp %v root %v", first.UID, first.GID, first.TmpWritable, first.RootWritable)
	}
	for k, want := range map[string]string{
		"FOO": "bar", "AWS_LAMBDA_FUNCTION_NAME": "echo", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/echo",
		"TZ": ":UTC", "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
	} {
		if got := first.env(k); got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if first.Arn != *out.FunctionArn || first.Deadline == "" || !strings.HasPrefix(first.Trace, "Root=1-") {
		t.Errorf("next headers: arn %s deadline %s trace %s", first.Arn, first.Deadline, first.Trace)
	}
	tail, _ := base64.StdEncoding.DecodeString(*inv.LogResult)
	if !strings.Contains(string(tail), "START RequestId:") || !strings.Contains(string(tail), "out 2\n") || !strings.Contains(string(tail), "Init Duration:") {
		t.Errorf("cold log tail:\n%s", tail)
	}

	start = time.Now()
	inv = invokeSync(t, f, "echo", `{}`)
	t.Logf("warm invoke: %v", time.Since(start))
	var second echo
	_ = json.Unmarshal(inv.Payload, &second)
	if second.Pid != first.Pid || second.Count != 2 {
		t.Errorf("not warm: pid %d→%d count %d", first.Pid, second.Pid, second.Count)
	}
	tail, _ = base64.StdEncoding.DecodeString(*inv.LogResult)
	if !strings.Contains(string(tail), "REPORT RequestId:") || strings.Contains(string(tail), "Init Duration") {
		t.Errorf("warm log tail:\n%s", tail)
	}
	if n := len(containers(t, "echo")); n != 1 {
		t.Errorf("%d containers, want 1", n)
	}

	// One stream for the one environment, lines in the order written.
	var streams map[string][]LogEvent
	eventually(t, 5*time.Second, "two REPORT lines", func() bool {
		streams = f.logs.group("/aws/lambda/echo")
		for _, ev := range streams {
			return strings.Count(strings.Join(messages(ev), ""), "REPORT ") == 2
		}
		return false
	})
	if len(streams) != 1 {
		t.Fatalf("%d streams", len(streams))
	}
	for name, ev := range streams {
		if !streamRE.MatchString(name) || first.env("AWS_LAMBDA_LOG_STREAM_NAME") != name {
			t.Errorf("stream name %q (env %q)", name, first.env("AWS_LAMBDA_LOG_STREAM_NAME"))
		}
		m := messages(ev)
		want := []string{"handler init\n", "START ", "out 1\n", "out 2\n", "END ", "REPORT ", "START ", "END ", "REPORT "}
		if len(m) != len(want) {
			t.Fatalf("log:\n%q", m)
		}
		for i, w := range want {
			if !strings.HasPrefix(m[i], w) || !strings.HasSuffix(m[i], "\n") {
				t.Errorf("line %d = %q, want prefix %q", i, m[i], w)
			}
		}
		if !regexp.MustCompile(`^REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n$`).MatchString(m[5]) {
			t.Errorf("cold REPORT %q", m[5])
		}
	}
}

func TestEventInvokeLogsLive(t *testing.T) {
	f := newFixture(t, Config{})
	f.create(t, &awslambda.CreateFunctionInput{
		FunctionName:  aws.String("events"),
		LoggingConfig: &types.LoggingConfig{LogGroup: aws.String("/custom/group")},
	})
	out, err := f.client.Invoke(context.Background(), &awslambda.InvokeInput{
		FunctionName: aws.String("events"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"stdout":50,"stderr":3,"sleepMs":1500}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("event invoke: %d %q", out.StatusCode, out.Payload)
	}
	// Output shows up while the function still runs.
	var lines []string
	eventually(t, 10*time.Second, "live output", func() bool {
		for _, ev := range f.logs.group("/custom/group") {
			lines = messages(ev)
		}
		return strings.Contains(strings.Join(lines, ""), "out 50\n")
	})
	if strings.Contains(strings.Join(lines, ""), "END RequestId") {
		t.Errorf("output was held until the end: %q", lines)
	}
	eventually(t, 10*time.Second, "REPORT", func() bool {
		for name, ev := range f.logs.group("/custom/group") {
			if !regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/events\[\$LATEST\][0-9a-f]{32}$`).MatchString(name) {
				t.Errorf("custom-group stream name %q", name)
			}
			lines = messages(ev)
		}
		return strings.Contains(strings.Join(lines, ""), "REPORT ")
	})
	all := strings.Join(lines, "")
	startAt, endAt := strings.Index(all, "START RequestId"), strings.Index(all, "END RequestId")
	prev := startAt
	for i := 1; i <= 50; i++ {
		at := strings.Index(all, "out "+strconv.Itoa(i)+"\n")
		if at < prev || at > endAt {
			t.Fatalf("line out %d out of order in\n%s", i, all)
		}
		prev = at
	}
	for i := 1; i <= 3; i++ {
		if at := strings.Index(all, "err "+strconv.Itoa(i)+"\n"); at < startAt || at > endAt {
			t.Errorf("stderr line %d missing or misplaced", i)
		}
	}
}

func TestFunctionErrors(t *testing.T) {
	f := newFixture(t, Config{})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("errs"), Timeout: aws.Int32(1)})

	check := func(payload, wantType, wantMsg string) *awslambda.InvokeOutput {
		t.Helper()
		out := invokeSync(t, f, "errs", payload)
		var body struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal(out.Payload, &body)
		if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || body.ErrorType != wantType {
			t.Errorf("%s: %d %v %s", payload, out.StatusCode, out.FunctionError, out.Payload)
		}
		if !regexp.MustCompile(wantMsg).MatchString(body.ErrorMessage) {
			t.Errorf("%s: message %q, want %s", payload, body.ErrorMessage, wantMsg)
		}
		return out
	}
	check(`{"error":"boom"}`, "Test.Error", `^boom$`)
	exited := check(`{"exit":3}`, "Runtime.ExitError", `^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3$`)
	if tail, _ := base64.StdEncoding.DecodeString(*exited.LogResult); !strings.Contains(string(tail), "\tStatus: error\tError Type: Runtime.ExitError\t\n") {
		t.Errorf("exit log:\n%s", tail)
	}
	check(`{"exit":0}`, "Runtime.ExitError", `^RequestId: [0-9a-f-]{36} Error: Runtime exited without providing a reason$`)
	start := time.Now()
	out := check(`{"sleepMs":5000}`, "Sandbox.Timedout", `^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$`)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
	tail, _ := base64.StdEncoding.DecodeString(*out.LogResult)
	if !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f-]{36} Task timed out after 1\.00 seconds\n`).Match(tail) ||
		!regexp.MustCompile(`REPORT RequestId: [0-9a-f-]{36}\tDuration: 1000\.00 ms\t.*\tStatus: timeout\t\n`).Match(tail) {
		t.Errorf("timeout log:\n%s", tail)
	}
	// A handled error keeps the environment; the crashes and the timeout did not.
	eventually(t, 10*time.Second, "crashed environments removed", func() bool { return len(containers(t, "errs")) == 0 })

	// Response over 6 MB.
	out = invokeSync(t, f, "errs", `{"big":6300000}`)
	if !strings.Contains(string(out.Payload), "Function.ResponseSizeTooLarge") {
		t.Errorf("big response: %.200s", out.Payload)
	}
}

func TestInitError(t *testing.T) {
	f := newFixture(t, Config{})
	f.create(t, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("initerr"),
		Environment:  &types.Environment{Variables: map[string]string{"INIT_ERROR": "1"}},
	})
	out := invokeSync(t, f, "initerr", `{}`)
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Test.InitError") {
		t.Errorf("init error: %v %s", out.FunctionError, out.Payload)
	}
}

func TestAsyncRetries(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("retry")})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("noretry")})
	_, err := f.client.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("noretry"), MaximumRetryAttempts: aws.Int32(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.client.GetFunctionEventInvokeConfig(ctx, &awslambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("noretry")})
	if err != nil || aws.ToInt32(cfg.MaximumRetryAttempts) != 0 || aws.ToString(cfg.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:noretry:$LATEST" {
		t.Fatalf("get config: %+v %v", cfg, err)
	}
	for _, fn := range []string{"retry", "noretry"} {
		if _, err := f.client.Invoke(ctx, &awslambda.InvokeInput{
			FunctionName: aws.String(fn), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"error":"again"}`),
		}); err != nil {
			t.Fatal(err)
		}
	}
	starts := func(group string) int {
		n := 0
		for _, ev := range f.logs.group(group) {
			n += strings.Count(strings.Join(messages(ev), ""), "END RequestId")
		}
		return n
	}
	eventually(t, 15*time.Second, "three attempts", func() bool { return starts("/aws/lambda/retry") == 3 })
	time.Sleep(700 * time.Millisecond)
	if n := starts("/aws/lambda/retry"); n != 3 {
		t.Errorf("retry: %d attempts, want 3", n)
	}
	if n := starts("/aws/lambda/noretry"); n != 1 {
		t.Errorf("noretry: %d attempts, want 1", n)
	}
}

func TestImageConfigOverride(t *testing.T) {
	f := newFixture(t, Config{})
	f.create(t, &awslambda.CreateFunctionInput{
		FunctionName: aws.String("override"),
		ImageConfig: &types.ImageConfig{
			EntryPoint: []string{"/handler", "--from-entrypoint"}, Command: []string{"--from-cmd"}, WorkingDirectory: aws.String("/tmp"),
		},
	})
	var e echo
	_ = json.Unmarshal(invokeSync(t, f, "override", `{}`).Payload, &e)
	if strings.Join(e.Args, " ") != "/handler --from-entrypoint --from-cmd" || e.Cwd != "/tmp" {
		t.Errorf("args %q cwd %q", e.Args, e.Cwd)
	}
}

func TestDeleteRemovesContainers(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("gone")})
	invokeSync(t, f, "gone", `{}`)
	if len(containers(t, "gone")) != 1 {
		t.Fatal("no warm container")
	}
	if _, err := f.client.DeleteFunction(ctx, &awslambda.DeleteFunctionInput{FunctionName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if n := len(containers(t, "gone")); n != 0 {
		t.Errorf("%d containers after DeleteFunction", n)
	}
	_, err := f.client.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String("gone")})
	apiError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:gone")
}

func TestIdleEnvironmentReaped(t *testing.T) {
	f := newFixture(t, Config{IdleTimeout: 500 * time.Millisecond})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("idle")})
	invokeSync(t, f, "idle", `{}`)
	eventually(t, 10*time.Second, "idle environment removed", func() bool { return len(containers(t, "idle")) == 0 })
}

func TestValidation(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	create := func(mod func(*awslambda.CreateFunctionInput)) error {
		in := &awslambda.CreateFunctionInput{
			FunctionName: aws.String("valid"), Role: aws.String(testRole), PackageType: types.PackageTypeImage,
			Code: &types.FunctionCode{ImageUri: aws.String(handlerImage)},
		}
		mod(in)
		_, err := f.client.CreateFunction(ctx, in)
		return err
	}
	apiError(t, create(func(in *awslambda.CreateFunctionInput) { in.FunctionName = aws.String("bad name!") }), "ValidationException",
		`1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: `+functionNamePattern)
	apiError(t, create(func(in *awslambda.CreateFunctionInput) { in.FunctionName = aws.String(strings.Repeat("a", 65)) }), "InvalidParameterValueException",
		"1 validation error detected: Value '"+strings.Repeat("a", 65)+"' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64")
	apiError(t, create(func(in *awslambda.CreateFunctionInput) { in.Role = aws.String("r1") }), "ValidationException",
		`1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`)
	apiError(t, create(func(in *awslambda.CreateFunctionInput) { in.MemorySize = aws.Int32(64); in.Timeout = aws.Int32(901) }), "ValidationException",
		"2 validation errors detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128; Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900")
	apiError(t, create(func(in *awslambda.CreateFunctionInput) {
		in.Architectures = []types.Architecture{types.ArchitectureX8664, types.ArchitectureArm64}
	}), "ValidationException", "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1")
	apiError(t, create(func(in *awslambda.CreateFunctionInput) {
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(100)}
	}), "ValidationException", "")
	apiError(t, create(func(in *awslambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"BIG": strings.Repeat("x", 4100)}}
	}), "InvalidParameterValueException", "")
	apiError(t, create(func(in *awslambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}
	}), "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION")
	bad := registryHost + "/nope:latest"
	apiError(t, create(func(in *awslambda.CreateFunctionInput) { in.Code.ImageUri = aws.String(bad) }), "InvalidParameterValueException",
		"Source image "+bad+" is not valid. Provide a valid source image.")
	apiError(t, create(func(in *awslambda.CreateFunctionInput) {
		in.PackageType = types.PackageTypeZip
		in.Code = &types.FunctionCode{ZipFile: []byte("PK")}
		in.Runtime, in.Handler = types.RuntimeProvidedal2023, aws.String("bootstrap")
	}), "InvalidParameterValueException", "")

	if err := create(func(*awslambda.CreateFunctionInput) {}); err != nil {
		t.Fatal(err)
	}
	apiError(t, create(func(*awslambda.CreateFunctionInput) {}), "ResourceConflictException", "Function already exist: valid")

	_, err := f.client.GetFunctionConfiguration(ctx, &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("nope")})
	apiError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope")
	_, err = f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("nope:$LATEST")})
	apiError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST")
	_, err = f.client.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("valid"), MaximumRetryAttempts: aws.Int32(3)})
	apiError(t, err, "ValidationException", "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2")
	_, err = f.client.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("valid"), MaximumEventAgeInSeconds: aws.Int32(30)})
	apiError(t, err, "ValidationException", "")

	// Wire details the SDK hides: status, x-amzn-ErrorType and the message member's spelling.
	resp, err := http.Get(f.url + "/2015-03-31/functions/nope")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" ||
		strings.TrimSpace(string(body)) != `{"Message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope","Type":"User"}` {
		t.Errorf("404 wire: %d %s %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
	}
	req, _ := http.NewRequest(http.MethodPut, f.url+"/2015-03-31/functions/valid/no-such-operation", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("unknown op: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}

func TestInvokeLimitsAndTypes(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("limits")})
	big := append(append([]byte(`"`), bytes.Repeat([]byte("x"), 6<<20)...), '"')
	_, err := f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("limits"), Payload: big})
	apiError(t, err, "RequestTooLargeException", "")
	_, err = f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("limits"), InvocationType: types.InvocationTypeEvent, Payload: big[:1<<20+10]})
	apiError(t, err, "RequestTooLargeException", "")
	out, err := f.client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("limits"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Errorf("DryRun: %v %v", out, err)
	}
	if n := len(containers(t, "limits")); n != 0 {
		t.Errorf("DryRun started %d containers", n)
	}
}

func TestControlPlane(t *testing.T) {
	f := newFixture(t, Config{PendingDelay: time.Millisecond})
	ctx := context.Background()
	for _, n := range []string{"c", "a", "b"} {
		f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String(n)})
	}
	var names []string
	p := awslambda.NewListFunctionsPaginator(f.client, &awslambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, fc := range page.Functions {
			names = append(names, *fc.FunctionName)
		}
	}
	if strings.Join(names, ",") != "a,b,c" || pages != 2 {
		t.Errorf("list: %v in %d pages", names, pages)
	}
	arn := "arn:aws:lambda:us-east-1:123456789012:function:a"
	if _, err := f.client.TagResource(ctx, &awslambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{"k1": "v1", "k2": "v2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.UntagResource(ctx, &awslambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: []string{"k1"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := f.client.ListTags(ctx, &awslambda.ListTagsInput{Resource: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["k2"] != "v2" {
		t.Errorf("tags %v %v", tags, err)
	}
	_, err = f.client.ListTags(ctx, &awslambda.ListTagsInput{Resource: aws.String(arn + "x")})
	apiError(t, err, "ResourceNotFoundException", "Function not found: "+arn+"x")
	if _, err := f.client.DeleteFunctionEventInvokeConfig(ctx, &awslambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("a")}); err == nil {
		t.Error("deleting a missing event invoke config succeeded")
	}
}

func TestConcurrentInvokesGetOwnEnvironments(t *testing.T) {
	f := newFixture(t, Config{})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("conc")})
	pids := make(chan int, 3)
	for i := 0; i < 3; i++ {
		go func() {
			out, err := f.client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("conc"), Payload: []byte(`{"sleepMs":700}`)})
			var e echo
			if err == nil {
				_ = json.Unmarshal(out.Payload, &e)
			}
			pids <- e.Count
		}()
	}
	for i := 0; i < 3; i++ {
		if c := <-pids; c != 1 {
			t.Errorf("invocation ran as number %d in its environment, want 1", c)
		}
	}
	if n := len(containers(t, "conc")); n != 3 {
		t.Errorf("%d containers, want 3", n)
	}
}

func TestNewRemovesOrphans(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	ref, _, err := testImages{}.Resolve(ctx, handlerImage)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.docker.ensureImage(ctx, ref, testImages{}.EngineAuth()); err != nil {
		t.Fatal(err)
	}
	// A container of a simulator process that no longer exists.
	_, err = dockerClient.ContainerCreate(ctx, &container.Config{Image: ref, Labels: map[string]string{
		labelSimulator: "1", labelFunction: "orphan", labelHost: hostname(), labelPID: "999999999",
	}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(containers(t, "orphan")) != 1 {
		t.Fatal("orphan not created")
	}
	// One whose PID this process cannot see (a simulator in another PID
	// namespace) but whose Runtime API still answers: alive, kept.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	live, err := dockerClient.ContainerCreate(ctx, &container.Config{Image: ref, Labels: map[string]string{
		labelSimulator: "1", labelFunction: "elsewhere", labelHost: hostname(), labelPID: "999999998", labelRuntime: ln.Addr().String(),
	}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dockerClient.ContainerRemove(ctx, live.ID, container.RemoveOptions{Force: true}) }()
	newFixture(t, Config{})
	if n := len(containers(t, "orphan")); n != 0 {
		t.Errorf("%d orphans left", n)
	}
	if n := len(containers(t, "elsewhere")); n != 1 {
		t.Errorf("a live simulator's environment was removed (%d left)", n)
	}
}

// 10,000 lines written as fast as the handler can print all reach
// CloudWatch, in order, between START and END.
func TestTenThousandLinesInOrder(t *testing.T) {
	f := newFixture(t, Config{PendingDelay: time.Millisecond})
	f.create(t, &awslambda.CreateFunctionInput{FunctionName: aws.String("many")})
	if out := invokeSync(t, f, "many", `{"stdout":10000}`); out.FunctionError != nil {
		t.Fatalf("invoke: %s", out.Payload)
	}
	var m []string
	eventually(t, 20*time.Second, "REPORT", func() bool {
		for _, ev := range f.logs.group("/aws/lambda/many") {
			m = messages(ev)
		}
		return len(m) > 0 && strings.HasPrefix(m[len(m)-1], "REPORT ")
	})
	if len(m) != 10004 || m[0] != "handler init\n" || !strings.HasPrefix(m[1], "START ") || !strings.HasPrefix(m[10002], "END ") {
		t.Fatalf("%d events; first %q, last %q", len(m), m[:min(3, len(m))], m[max(0, len(m)-3):])
	}
	for i := 1; i <= 10000; i++ {
		if m[i+1] != "out "+strconv.Itoa(i)+"\n" {
			t.Fatalf("event %d = %q, want line %d", i+1, m[i+1], i)
		}
	}
}
