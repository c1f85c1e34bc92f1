package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/stdcopy"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var _ = Describe("the Docker Go SDK", func() {
	for _, negotiate := range []bool{true, false} {
		It("runs a container through create, attach, wait, start and remove (negotiation "+map[bool]string{true: "on", false: "off"}[negotiate]+")", func(ctx SpecContext) {
			cli := sdk(negotiate)
			defer cli.Close()

			ping, err := cli.Ping(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(ping.APIVersion).NotTo(BeEmpty())
			Expect(ping.OSType).To(Equal("linux"))

			// An SDK user pulls first: the SDK, unlike the CLI, does not pull
			// on a 404 from create.
			pull, err := cli.ImagePull(ctx, "busybox:latest", image.PullOptions{})
			Expect(err).NotTo(HaveOccurred())
			progress, err := io.ReadAll(pull)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(progress)).To(ContainSubstring("Digest: sha256:"))
			Expect(pull.Close()).To(Succeed())

			created, err := cli.ContainerCreate(ctx, &container.Config{
				Image: "busybox", Cmd: []string{"sh", "-c", "echo to-out; echo to-err >&2; exit 7"},
				Env: []string{"GREETING=hi"}, AttachStdout: true, AttachStderr: true,
			}, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())

			att, err := cli.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
			Expect(err).NotTo(HaveOccurred())
			defer att.Close()
			waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
			Expect(cli.ContainerStart(ctx, created.ID, container.StartOptions{})).To(Succeed())

			var stdout, stderr bytes.Buffer
			_, err = stdcopy.StdCopy(&stdout, &stderr, att.Reader)
			Expect(err).NotTo(HaveOccurred())
			Expect(stdout.String()).To(Equal("to-out\n"))
			Expect(stderr.String()).To(Equal("to-err\n"))

			select {
			case w := <-waitC:
				Expect(w.StatusCode).To(BeEquivalentTo(7))
			case err := <-errC:
				Fail("wait: " + err.Error())
			case <-time.After(time.Minute):
				Fail("wait did not return")
			}

			info, err := cli.ContainerInspect(ctx, created.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State.Status).To(Equal("exited"))
			Expect(info.State.ExitCode).To(Equal(7))
			Expect(info.Config.Env).To(ContainElement("GREETING=hi"))
			Expect(info.State.StartedAt).NotTo(Equal("0001-01-01T00:00:00Z"))
			Expect(info.State.FinishedAt).NotTo(Equal("0001-01-01T00:00:00Z"))

			logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
			Expect(err).NotTo(HaveOccurred())
			stdout.Reset()
			stderr.Reset()
			_, err = stdcopy.StdCopy(&stdout, &stderr, logs)
			Expect(err).NotTo(HaveOccurred())
			Expect(stdout.String()).To(Equal("to-out\n"))
			Expect(stderr.String()).To(Equal("to-err\n"))

			Expect(cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{})).To(Succeed())
			_, err = cli.ContainerInspect(ctx, created.ID)
			Expect(err).To(MatchError(ContainSubstring("No such container")))
			expectNothingLeft(created.ID)
		}, SpecTimeout(3*time.Minute))
	}

	It("answers version and info", func(ctx SpecContext) {
		cli := sdk(true)
		defer cli.Close()
		v, err := cli.ServerVersion(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Os).To(Equal("linux"))
		Expect(v.Components).NotTo(BeEmpty())
		info, err := cli.Info(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.OSType).To(Equal("linux"))
		Expect(info.OperatingSystem).To(ContainSubstring("AWS Lambda"))
	})
})
