package simulator_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sockerless-lambda/sockerless/simulator"
	"github.com/sockerless-lambda/sockerless/simulator/lambda/lambdatest"
)

// TestAWSCLILambda drives the simulator's Lambda with the AWS CLI, as its
// users do: create-function from an image pushed to the simulator's ECR,
// wait function-active-v2, invoke, list-functions, delete-function.
func TestAWSCLILambda(t *testing.T) {
	if _, err := os.Stat(awsCLIPath); err != nil {
		t.Fatalf("%s is missing: apt-get install awscli (%v)", awsCLIPath, err)
	}
	dir := t.TempDir()
	srv, err := simulator.New(simulator.Config{
		Addr: "127.0.0.1:0", Region: "us-east-1", AccountID: "123456789012", DataDir: filepath.Join(dir, "data"),
		PendingDelay: 100 * time.Millisecond, IdleTimeout: time.Minute, AccountConcurrency: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close simulator: %v", err)
		}
		removeImagesFrom(t, srv.Addr())
	})
	imageURI := pushToECR(t, srv, dir)

	cli := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(awsCLIPath, append([]string{"--endpoint-url", srv.URL(), "--output", "json"}, args...)...)
		cmd.Env = []string{
			"PATH=/usr/bin:/bin", "HOME=" + dir, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		var v map[string]any
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return v
	}

	created := must("lambda", "create-function", "--function-name", "cli-fn", "--package-type", "Image",
		"--code", "ImageUri="+imageURI, "--role", "arn:aws:iam::123456789012:role/lambda-role", "--timeout", "10")
	if created["State"] != "Pending" || created["FunctionArn"] != "arn:aws:lambda:us-east-1:123456789012:function:cli-fn" || created["PackageType"] != "Image" {
		t.Errorf("create-function: %v", created)
	}
	must("lambda", "wait", "function-active-v2", "--function-name", "cli-fn")

	outFile := filepath.Join(dir, "response.json")
	inv := must("lambda", "invoke", "--function-name", "cli-fn", "--cli-binary-format", "raw-in-base64-out",
		"--payload", `{"stdout":1}`, "--log-type", "Tail", outFile)
	if inv["StatusCode"] != float64(200) || inv["ExecutedVersion"] != "$LATEST" || inv["FunctionError"] != nil {
		t.Errorf("invoke: %v", inv)
	}
	logTail, _ := base64.StdEncoding.DecodeString(inv["LogResult"].(string))
	if !strings.Contains(string(logTail), "out 1\n") || !strings.Contains(string(logTail), "REPORT RequestId: ") {
		t.Errorf("invoke log tail:\n%s", logTail)
	}
	payload, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Event map[string]any }
	if err := json.Unmarshal(payload, &resp); err != nil || resp.Event["stdout"] != float64(1) {
		t.Errorf("invoke payload %s: %v", payload, err)
	}

	list := must("lambda", "list-functions")
	fns, _ := list["Functions"].([]any)
	if len(fns) != 1 || fns[0].(map[string]any)["FunctionName"] != "cli-fn" {
		t.Errorf("list-functions: %v", list)
	}

	if out := must("lambda", "delete-function", "--function-name", "cli-fn"); out != nil {
		t.Errorf("delete-function printed %v", out)
	}
	_, errOut, err := cli("lambda", "get-function", "--function-name", "cli-fn")
	want := "An error occurred (ResourceNotFoundException) when calling the GetFunction operation: Function not found: arn:aws:lambda:us-east-1:123456789012:function:cli-fn"
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 254 || strings.TrimSpace(errOut) != want {
		t.Errorf("get-function after delete: %v\n%s", err, errOut)
	}
}

// removeImagesFrom removes what the engine pulled from the registry at host,
// which lives only as long as the test.
func removeImagesFrom(t *testing.T, host string) {
	ctx := context.Background()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Errorf("docker client: %v", err)
		return
	}
	defer c.Close()
	list, err := c.ImageList(ctx, image.ListOptions{})
	if err != nil {
		t.Errorf("list images: %v", err)
		return
	}
	for _, img := range list {
		for _, ref := range img.RepoDigests {
			if strings.HasPrefix(ref, host+"/") {
				if _, err := c.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil {
					t.Errorf("remove image %s: %v", ref, err)
				}
			}
		}
	}
}

// pushToECR creates a repository in the simulator's ECR, pushes the test
// handler image to it with the registry login ECR hands out, and returns
// the image's ECR URI.
func pushToECR(t *testing.T, srv *simulator.Server, dir string) string {
	t.Helper()
	ctx := context.Background()
	c := ecrsdk.New(ecrsdk.Options{
		BaseEndpoint: aws.String(srv.URL()), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	if _, err := c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String("cli-handler")}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.GetAuthorizationToken(ctx, &ecrsdk.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	bin, err := lambdatest.BuildHandler(dir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := lambdatest.Image(bin, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(srv.Addr()+"/cli-handler:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})); err != nil {
		t.Fatal(err)
	}
	return "123456789012.dkr.ecr.us-east-1.amazonaws.com/cli-handler:latest"
}
