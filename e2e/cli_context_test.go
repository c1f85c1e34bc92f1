package e2e

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// dockerInConfig runs the docker CLI with its own DOCKER_CONFIG, no
// DOCKER_HOST and no DOCKER_CONTEXT but those in env: where it goes is up to
// the contexts in that config.
func dockerInConfig(configDir string, env []string, args ...string) result {
	GinkgoHelper()
	return runCLI("docker", args, append([]string{"DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_CONFIG=" + configDir}, env...), "", "")
}

var _ = Describe("docker context", func() {
	It("reaches the backend through a context, with DOCKER_HOST unset, until the context is removed", func() {
		cfg := GinkgoT().TempDir()
		dk := func(args ...string) result { GinkgoHelper(); return dockerInConfig(cfg, nil, args...) }
		// What tells the backend from a Docker engine in docker info.
		const infoFormat = "{{.Driver}}|{{.OperatingSystem}}|{{.ID}}"
		backendInfo := "lambda|AWS Lambda (" + sut.Region + ")|sockerless-lambda-" + sut.Region + "\n"

		r := dk("context", "create", "sockerless", "--description", "sockerless e2e", "--docker", "host="+sut.DockerHost)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stderr).To(ContainSubstring(`Successfully created context "sockerless"`))
		DeferCleanup(func() { dk("context", "rm", "-f", "sockerless") })
		// A context for the local engine: the same info from it must differ,
		// or the checks below could not tell where the CLI went.
		engineHost := envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock")
		r = dk("context", "create", "engine", "--docker", "host="+engineHost)
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = dk("--context", "engine", "info", "--format", infoFormat)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).NotTo(Equal(backendInfo), "the local engine answers docker info as the backend does")

		r = dk("context", "use", "sockerless")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = dk("context", "show")
		Expect(r.Stdout).To(Equal("sockerless\n"))
		r = dk("context", "ls", "--format", "{{.Name}} {{.Current}} {{.DockerEndpoint}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("sockerless true " + sut.DockerHost + "\n"))

		r = dk("info", "--format", infoFormat)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(backendInfo))

		path, id := cidFile()
		r = dk("run", "--rm", "--cidfile", path, "busybox", "echo", "via-context")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("via-context\n"))
		expectNothingLeft(id())

		name := "e2e-context-" + randomSuffix()
		r = dk("create", "--name", name, "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		created := strings.TrimSpace(r.Stdout)
		DeferCleanup(func() { docker("rm", "-f", name) })
		// The container is a Lambda function.
		_, err := lambdaAPI.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(functionName(created))})
		Expect(err).NotTo(HaveOccurred(), "docker create through the context made no Lambda function")
		r = dk("ps", "-a", "--no-trunc", "--filter", "name="+name, "--format", "{{.ID}} {{.Names}} {{.State}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(created + " " + name + " created\n"))

		// The other ways to choose it, with the default context current.
		r = dk("context", "use", "default")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = dk("--context", "sockerless", "version", "--format", "{{.Server.Platform.Name}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("sockerless-backend-lambda\n"))
		r = dockerInConfig(cfg, []string{"DOCKER_CONTEXT=sockerless"}, "info", "--format", infoFormat)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(backendInfo))
		r = dockerInConfig(cfg, []string{"DOCKER_CONTEXT=sockerless"}, "rm", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		expectNothingLeft(created)

		r = dk("context", "rm", "sockerless")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = dk("context", "ls", "--format", "{{.Name}}")
		Expect(r.Stdout).NotTo(ContainSubstring("sockerless"))
		r = dk("--context", "sockerless", "info")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`context "sockerless": context not found`))
	})
})
