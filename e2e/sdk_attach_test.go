package e2e

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("attach with the Go SDK", func() {
	It("replays the stored output with logs=1", func(ctx SpecContext) {
		name := "e2e-attach-logs-" + randomSuffix()
		r := docker("run", "--name", name, "busybox", "sh", "-c", "echo stored; echo kept >&2")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		cli := sdk(true)
		defer cli.Close()
		att, err := cli.ContainerAttach(ctx, name, container.AttachOptions{Logs: true, Stdout: true, Stderr: true})
		Expect(err).NotTo(HaveOccurred())
		defer att.Close()
		var stdout, stderr bytes.Buffer
		_, err = stdcopy.StdCopy(&stdout, &stderr, att.Reader)
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout.String()).To(Equal("stored\n"))
		Expect(stderr.String()).To(Equal("kept\n"))
	}, SpecTimeout(2*time.Minute))

	It("detaches on the detach keys and leaves the container running", func(ctx SpecContext) {
		name := "e2e-detach-" + randomSuffix()
		r := docker("run", "-d", "-i", "-t", "--name", name, "busybox", "cat")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		cli := sdk(true)
		defer cli.Close()
		att, err := cli.ContainerAttach(ctx, name, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, DetachKeys: "ctrl-x"})
		Expect(err).NotTo(HaveOccurred())
		defer att.Close()
		var out safeBuffer
		done := make(chan error, 1)
		go func() { _, err := io.Copy(&out, att.Reader); done <- err }()
		_, err = att.Conn.Write([]byte("echoed\n"))
		Expect(err).NotTo(HaveOccurred())
		Eventually(out.String).WithTimeout(30 * time.Second).Should(ContainSubstring("echoed"))
		_, err = att.Conn.Write([]byte{0x18}) // ctrl-x
		Expect(err).NotTo(HaveOccurred())
		Eventually(done).WithTimeout(30*time.Second).Should(Receive(), "the attach stream did not end on the detach keys")
		Expect(docker("inspect", "--format", "{{.State.Running}}", name).Stdout).To(Equal("true\n"))
	}, SpecTimeout(2*time.Minute))
})

// safeBuffer is a bytes.Buffer that one goroutine writes while another reads.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
