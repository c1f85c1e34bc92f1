package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// dockerCmd is a docker CLI command against the backend, not yet started.
func dockerCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+sut.DockerHost, "DOCKER_CONFIG="+dockerCfg, "DOCKER_CONTEXT=")
	return cmd
}

// ptyOutput collects what a command writes to its terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *ptyOutput) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *ptyOutput) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

var _ = Describe("the agent's channel through the docker CLI", Ordered, func() {
	var name string

	BeforeAll(func() {
		name = "e2e-agent-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "tail", "-f", "/dev/null")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
	})

	It("runs docker exec with its own streams, env, workdir and exit code", func() {
		r := docker("exec", name, "sh", "-c", "echo out; echo err >&2; exit 7")
		Expect(r.Code).To(Equal(7), r.Stderr)
		Expect(r.Stdout).To(Equal("out\n"))
		Expect(r.Stderr).To(Equal("err\n"))

		r = docker("exec", "-e", "FOO=bar", "-w", "/tmp", name, "sh", "-c", `echo "$FOO $(pwd)"`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("bar /tmp\n"))

		r = docker("exec", name, "nosuch")
		Expect(r.Code).To(Equal(127))

		r = dockerWithInput("piped\nstdin", "exec", "-i", name, "sh", "-c", "cat; echo ' end'")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("piped\nstdin end\n"))
	})

	It("runs docker exec -it under a terminal, with its size", func() {
		cmd := dockerCmd("exec", "-it", name, "sh", "-c", "stty size; read x; echo got-$x")
		tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
		Expect(err).NotTo(HaveOccurred())
		defer tty.Close()
		out := &ptyOutput{}
		go func() { _, _ = io.Copy(out, tty) }()
		Eventually(out.String, "30s", "50ms").Should(ContainSubstring("30 100"))
		_, err = tty.Write([]byte("abc\r"))
		Expect(err).NotTo(HaveOccurred())
		Eventually(out.String, "30s", "50ms").Should(ContainSubstring("got-abc"))
		Expect(cmd.Wait()).To(Succeed())
	})

	It("lists the processes with docker top", func() {
		r := docker("top", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("PID"))
		Expect(r.Stdout).To(ContainSubstring("tail -f /dev/null"))
	})

	It("pauses and unpauses the container", func() {
		r := docker("pause", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("pause", name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("already paused"))
		r = docker("unpause", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("exec", name, "echo", "alive")
		Expect(r.Stdout).To(Equal("alive\n"))
	})

	It("copies files both ways with docker cp, and says why a read-only path fails", func() {
		dir := GinkgoT().TempDir()
		src := filepath.Join(dir, "in.txt")
		Expect(os.WriteFile(src, []byte("to the container\n"), 0o644)).To(Succeed())
		r := docker("cp", src, name+":/tmp/")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("exec", name, "cat", "/tmp/in.txt")
		Expect(r.Stdout).To(Equal("to the container\n"))

		Expect(docker("exec", name, "sh", "-c", "mkdir -p /tmp/d && echo back > /tmp/d/out.txt").Code).To(Equal(0))
		r = docker("cp", name+":/tmp/d", filepath.Join(dir, "d"))
		Expect(r.Code).To(Equal(0), r.Stderr)
		b, err := os.ReadFile(filepath.Join(dir, "d", "out.txt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal("back\n"))

		r = docker("cp", src, name+":/etc/")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("read-only"))
	})

	It("delivers docker kill -s to the process", func() {
		n := "e2e-kill-" + randomSuffix()
		r := docker("run", "-d", "--name", n, "busybox", "sh", "-c", `trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		defer docker("rm", "-f", n)
		Eventually(func() string { return docker("logs", n).Stdout }, "30s", "200ms").Should(ContainSubstring("ready"))
		Expect(docker("kill", "-s", "USR1", n).Code).To(Equal(0))
		Eventually(func() string { return docker("logs", n).Stdout }, "30s", "200ms").Should(ContainSubstring("got-usr1"))
		Expect(docker("kill", "-s", "KILL", n).Code).To(Equal(0))
		r = docker("wait", n)
		Expect(r.Stdout).To(Equal("137\n"))
	})
})

var _ = Describe("stdin and files around the main process", func() {
	It("keeps the function role's credentials out of the container's reach", func() {
		// Lambda puts the execution role's keys in the function's
		// environment; the agent drops them before anything of the
		// container runs, so no process's environ holds them.
		r := docker("run", "--rm", "busybox", "sh", "-c", `cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -E '^AWS_(SECRET_ACCESS_KEY|SESSION_TOKEN|ACCESS_KEY_ID)='; echo checked`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("checked\n"))
	})

	It("passes piped stdin to docker run -i, with EOF", func() {
		r := dockerWithInput("line1\nline2\n", "run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo end")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("line1\nline2\nend\n"))
	})

	It("copies a file into a created container before it starts", func() {
		n := "e2e-cp-before-" + randomSuffix()
		r := docker("create", "--name", n, "busybox", "cat", "/tmp/staged.txt")
		Expect(r.Code).To(Equal(0), r.Stderr)
		defer docker("rm", "-f", n)
		src := filepath.Join(GinkgoT().TempDir(), "staged.txt")
		Expect(os.WriteFile(src, []byte("staged before start\n"), 0o644)).To(Succeed())
		r = docker("cp", src, n+":/tmp/staged.txt")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("start", "-a", n)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("staged before start\n"))
	})
})
