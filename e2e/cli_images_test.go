package e2e

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// engineDocker runs the docker CLI against the local Docker engine.
func engineDocker(args ...string) result {
	GinkgoHelper()
	cmd := exec.CommandContext(context.Background(), "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock"), "DOCKER_CONFIG="+dockerCfg)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		return result{Stdout: string(out), Stderr: string(ee.Stderr), Code: code}
	}
	Expect(err).NotTo(HaveOccurred())
	return result{Stdout: string(out), Code: code}
}

var _ = Describe("images", func() {
	BeforeEach(func() {
		Expect(docker("pull", "busybox").Code).To(Equal(0))
	})

	It("lists, inspects and shows the history of a pulled image", func() {
		r := docker("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("busybox:latest\n"))
		r = docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{.RepoTags}}", "busybox")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`^linux/amd64 \[.*busybox:latest.*\]\n$`))
		r = docker("history", "busybox")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring(`CMD ["sh"]`))
	})

	It("tags and untags", func() {
		tag := "e2e/tagged:" + randomSuffix()
		Expect(docker("tag", "busybox", tag).Code).To(Equal(0))
		r := docker("images", "--format", "{{.Repository}}:{{.Tag}}", "e2e/tagged")
		Expect(r.Stdout).To(Equal(tag + "\n"))
		r = docker("rmi", tag)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("Untagged: " + tag + "\n"))
		Expect(docker("image", "inspect", tag).Code).NotTo(Equal(0))
		Expect(docker("image", "inspect", "busybox").Code).To(Equal(0), "untagging a second name removed the image")
	})

	It("loads a docker save archive into ECR and runs it", func() {
		name := "e2e-loaded/box:" + randomSuffix()
		Expect(engineDocker("tag", "busybox:latest", name).Code).To(Equal(0))
		DeferCleanup(func() { engineDocker("rmi", name) })
		archive := filepath.Join(GinkgoT().TempDir(), "box.tar")
		Expect(engineDocker("save", "-o", archive, name).Code).To(Equal(0))

		r := docker("load", "-i", archive)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("Loaded image: " + name + "\n"))
		r = docker("run", "--rm", name, "echo", "loaded")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("loaded\n"))
		Expect(docker("rmi", name).Code).To(Equal(0))
	})

	It("pushes to ECR and pulls back", func() {
		onSimulator("pushes to the simulator's registry address")
		registry := strings.TrimPrefix(sut.AWSEndpoint, "http://")
		ref := registry + "/e2e-pushed:" + randomSuffix()
		Expect(docker("tag", "busybox", ref).Code).To(Equal(0))
		r := docker("push", ref)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("digest: sha256:"))
		Expect(docker("rmi", ref).Code).To(Equal(0))
		r = docker("pull", ref)
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("run", "--rm", ref, "echo", "pushed")
		Expect(r.Stdout).To(Equal("pushed\n"))

		r = docker("push", "example.com/elsewhere:1")
		Expect(r.Code).NotTo(Equal(0))
	})
})

var _ = Describe("images through ECR", func() {
	It("pulls another registry's image through its pull-through cache rule", func(ctx SpecContext) {
		onSimulator("creates a pull-through cache rule whose upstream the simulator serves from the local engine")
		prefix := "e2e-ghcr-" + randomSuffix()
		_, err := ecrAPI.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
			EcrRepositoryPrefix: aws.String(prefix), UpstreamRegistryUrl: aws.String("ghcr.io"),
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx context.Context) {
			_, _ = ecrAPI.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix)})
		})
		// The simulator's pull-through cache takes the image from the local
		// engine when the upstream cannot be reached.
		name := "ghcr.io/e2e/box:" + randomSuffix()
		Expect(engineDocker("tag", "busybox:latest", name).Code).To(Equal(0))
		DeferCleanup(func() { engineDocker("rmi", name) })

		r := docker("run", "--rm", name, "echo", "from ghcr")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("from ghcr\n"))
		Expect(docker("rmi", name).Code).To(Equal(0))

		// Without a rule, the image is fetched from the registry itself (and
		// copied into ECR): quay.io cannot be reached from the tests.
		r = docker("pull", "quay.io/e2e/none:1")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("quay.io"))
	})

	It("pushes nothing for a second run of the same image: the derived image is cached", func(ctx SpecContext) {
		count := func() int {
			out, err := ecrAPI.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("sockerless")})
			Expect(err).NotTo(HaveOccurred())
			return len(out.ImageIds)
		}
		Expect(docker("run", "--rm", "busybox", "true").Code).To(Equal(0))
		before := count()
		Expect(docker("run", "--rm", "busybox", "true").Code).To(Equal(0))
		Expect(count()).To(Equal(before))
	})
})
