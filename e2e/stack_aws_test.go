package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	. "github.com/onsi/ginkgo/v2"
)

// SOCKERLESS_E2E_STACK=aws runs the suites against real AWS: the backend from
// bin/ as a local process, configured by the environment as in production
// (examples/terraform prints the variables), with credentials from the
// standard chain. Without credentials or that configuration, every spec is
// skipped with one line saying why; skipped specs are reported as skipped,
// never as passed.

// awsSkip is why the real-AWS suites cannot run here.
type awsSkip struct{ reason string }

func (s awsSkip) Error() string { return "real AWS: skipped: " + s.reason }

func startAWSStack() (*stack, error) {
	for _, k := range []string{"SOCKERLESS_LAMBDA_ROLE_ARN", "SOCKERLESS_CALLBACK_URL"} {
		if os.Getenv(k) == "" {
			return nil, awsSkip{k + " is not set (see examples/terraform/README.md)"}
		}
	}
	if os.Getenv("SOCKERLESS_ENDPOINT_URL") != "" {
		return nil, fmt.Errorf("SOCKERLESS_E2E_STACK=aws: SOCKERLESS_ENDPOINT_URL is set: unset it to reach AWS itself")
	}
	// The credential chain may probe instance metadata: bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err == nil {
		_, err = sts.NewFromConfig(ac).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	}
	if err != nil {
		return nil, awsSkip{fmt.Sprintf("no usable AWS credentials (%v)", err)}
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	s := &stack{DockerHost: "tcp://127.0.0.1:" + port, Region: ac.Region, onAWS: true}
	s.backendEnv = []string{"SOCKERLESS_DOCKER_HOST=" + s.DockerHost}
	if err := s.startBackend(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// onSimulator skips a spec that needs the simulator (its registry address,
// its EFS), naming why, when the suite runs against AWS.
func onSimulator(why string) {
	if sut.onAWS {
		Skip("on the simulator only: " + why)
	}
}

// skipLine prints the one line that says why the real-AWS suites did not run.
func skipLine(err error) {
	fmt.Fprintln(os.Stdout, strings.TrimSpace(err.Error()))
}
