// Package e2e drives real clients (the docker CLI, the Docker Go SDK) against
// the backend, on the simulator by default.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var (
	sut       *stack
	dockerCfg string // a private DOCKER_CONFIG, so no user context interferes
	lambdaAPI *lambda.Client
	logsAPI   *cloudwatchlogs.Client
	ecrAPI    *ecr.Client
	engine    *client.Client // the local Docker engine the simulator runs functions on
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sockerless-backend-lambda end to end")
}

var _ = BeforeSuite(func() {
	if _, err := exec.LookPath("docker"); err != nil {
		Fail("the docker CLI is not installed: the end-to-end suite drives it")
	}
	var err error
	sut, err = startStack()
	if skip := (awsSkip{}); errors.As(err, &skip) {
		skipLine(err)
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred())
	dockerCfg = GinkgoT().TempDir()

	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(sut.Region)}
	if sut.AWSEndpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(sut.AWSEndpoint),
			awsconfig.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
			})))
	}
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	Expect(err).NotTo(HaveOccurred())
	lambdaAPI = lambda.NewFromConfig(ac)
	logsAPI = cloudwatchlogs.NewFromConfig(ac)
	ecrAPI = ecr.NewFromConfig(ac)

	engine, err = client.NewClientWithOpts(client.WithHost(envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock")), client.WithAPIVersionNegotiation())
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if sut != nil {
		sut.stop()
	}
})

// ReportAfterEach adds the stack's logs to failed specs.
var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() && sut != nil && len(sut.procs) > 0 {
		AddReportEntry("stack output", sut.output())
	}
})

// result is what one docker CLI command did.
type result struct {
	Stdout, Stderr string
	Code           int
}

// docker runs the docker CLI against the backend.
func docker(args ...string) result {
	return dockerWithInput("", args...)
}

func dockerWithInput(stdin string, args ...string) result {
	return runCLI("docker", args, []string{"DOCKER_HOST=" + sut.DockerHost, "DOCKER_CONFIG=" + dockerCfg, "DOCKER_CONTEXT="}, "", stdin)
}

// runCLI runs a client (docker, docker-compose) with env over this process's
// environment, in dir, with stdin, for 3 minutes at most.
func runCLI(name string, args, env []string, dir, stdin string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		Fail(name + " " + strings.Join(args, " ") + ": " + err.Error())
	}
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// sdk is a Docker Go SDK client of the backend.
func sdk(negotiate bool) *client.Client {
	opts := []client.Opt{client.WithHost(sut.DockerHost)}
	if negotiate {
		opts = append(opts, client.WithAPIVersionNegotiation())
	}
	c, err := client.NewClientWithOpts(opts...)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// functionName is the Lambda function the backend gives a container.
func functionName(containerID string) string { return "sockerless-" + containerID[:24] }

// expectNothingLeft checks that a container left no function, no execution
// environment and no container record behind.
func expectNothingLeft(containerID string) {
	GinkgoHelper()
	_, err := lambdaAPI.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(functionName(containerID))})
	var nf *lambdatypes.ResourceNotFoundException
	Expect(errors.As(err, &nf)).To(BeTrue(), "function %s still exists (err=%v)", functionName(containerID), err)

	Eventually(func() []container.Summary {
		list, err := engine.ContainerList(context.Background(), container.ListOptions{
			All: true, Filters: filters.NewArgs(filters.Arg("label", "sockerless-simulator.function="+functionName(containerID))),
		})
		Expect(err).NotTo(HaveOccurred())
		return list
	}).WithTimeout(15*time.Second).WithPolling(200*time.Millisecond).Should(BeEmpty(), "execution environments left on the engine")

	r := docker("ps", "-a", "-q", "--no-trunc", "--filter", "id="+containerID)
	Expect(r.Code).To(Equal(0), r.Stderr)
	Expect(strings.TrimSpace(r.Stdout)).To(BeEmpty(), "container still listed by docker ps -a")

	// Its output and its journal go with it, as docker rm removes a log file.
	Expect(logStreams(functionLogGroup(), time.Now().UTC().Format("2006/01/02/")+functionName(containerID))).To(BeEmpty(), "output left behind")
	Expect(logStreams(journalLogGroup(), "sockerless/containers/"+containerID)).To(BeEmpty(), "journal left behind")
}

func functionLogGroup() string { return envOr("SOCKERLESS_LAMBDA_LOG_GROUP", "/sockerless/lambda") }

func journalLogGroup() string {
	return envOr("SOCKERLESS_JOURNAL_LOG_GROUP", functionLogGroup()+"/journal")
}

// logStreams lists the names of a log group's streams with a prefix.
func logStreams(group, prefix string) []string {
	GinkgoHelper()
	out, err := logsAPI.DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupName: aws.String(group), LogStreamNamePrefix: aws.String(prefix),
	})
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, s := range out.LogStreams {
		names = append(names, aws.ToString(s.LogStreamName))
	}
	return names
}

// lambdaMemory is the MemorySize of a container's function.
func lambdaMemory(containerID string) int32 {
	GinkgoHelper()
	out, err := lambdaAPI.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(functionName(containerID))})
	Expect(err).NotTo(HaveOccurred())
	return aws.ToInt32(out.MemorySize)
}
