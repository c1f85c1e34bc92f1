package e2e

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/creack/pty"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// terminal is a docker CLI command running under a pseudo-terminal, as in a
// user's shell.
type terminal struct {
	cmd    *exec.Cmd
	tty    *os.File
	out    *ptyOutput
	exited chan struct{}
	code   int
}

// startTerminal starts docker args under a pty of rows×cols, with DOCKER_HOST
// host.
func startTerminal(host string, rows, cols uint16, args ...string) *terminal {
	GinkgoHelper()
	t := &terminal{cmd: dockerCmd(args...), out: &ptyOutput{}, exited: make(chan struct{})}
	t.cmd.Env = append(t.cmd.Env, "DOCKER_HOST="+host) // the last value wins
	tty, err := pty.StartWithSize(t.cmd, &pty.Winsize{Rows: rows, Cols: cols})
	Expect(err).NotTo(HaveOccurred())
	t.tty = tty
	go func() { _, _ = io.Copy(t.out, tty) }()
	go func() {
		err := t.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			t.code = ee.ExitCode()
		case err != nil:
			t.code = -1
		}
		close(t.exited)
	}()
	DeferCleanup(func() {
		select {
		case <-t.exited:
		default:
			_ = t.cmd.Process.Kill()
			<-t.exited
		}
		_ = tty.Close()
	})
	return t
}

// typeLine types a line and Enter, as a user at the keyboard.
func (t *terminal) typeLine(line string) {
	GinkgoHelper()
	_, err := t.tty.Write([]byte(line + "\r"))
	Expect(err).NotTo(HaveOccurred())
}

// typeKeys types keys one at a time, as fingers do: the docker CLI sees a
// detach sequence only in keys that reach it one per read.
func (t *terminal) typeKeys(keys ...byte) {
	GinkgoHelper()
	for i, k := range keys {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		_, err := t.tty.Write([]byte{k})
		Expect(err).NotTo(HaveOccurred())
	}
}

// expectPrompt waits for busybox sh's prompt: "/ $ " (the function's user
// is not root on Lambda) or "/ # ".
func (t *terminal) expectPrompt() {
	GinkgoHelper()
	Eventually(t.out.String).WithTimeout(60*time.Second).WithPolling(50*time.Millisecond).
		Should(MatchRegexp(`/ [$#] `), "no shell prompt")
}

// expectLine waits for a line of output matching re (the terminal ends lines
// with \r\n). The echo of the typed command must not match re.
func (t *terminal) expectLine(re string) {
	GinkgoHelper()
	Eventually(t.out.String).WithTimeout(30*time.Second).WithPolling(50*time.Millisecond).
		Should(MatchRegexp(`(?m)^`+re+`\r?$`), "the terminal shows no line matching %q", re)
}

// expectSize checks that the shell's terminal has rows×cols, asking again
// until a resize has reached it.
func (t *terminal) expectSize(rows, cols string) {
	GinkgoHelper()
	want := regexp.MustCompile(`(?m)^size:` + rows + ` ` + cols + `\r?$`)
	Eventually(func() bool {
		seen := len(t.out.String())
		t.typeLine(`echo "size:$(stty size)"`)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if want.MatchString(t.out.String()[seen:]) {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}).WithTimeout(30*time.Second).WithPolling(10*time.Millisecond).Should(BeTrue(),
		"stty size never showed %s %s; the terminal shows:\n%s", rows, cols, t.out.String())
}

// expectExit waits for the CLI to end and returns its exit code.
func (t *terminal) expectExit() int {
	GinkgoHelper()
	Eventually(t.exited).WithTimeout(60*time.Second).Should(BeClosed(),
		"the docker CLI did not end; the terminal shows:\n%s", t.out.String())
	return t.code
}

// unixRelay is a DOCKER_HOST on a unix socket that relays each connection to
// the backend's TCP address, half-closes included: a user's docker CLI on a
// unix socket (SOCKERLESS_DOCKER_HOST=unix://...), whichever way the suite
// reaches the backend.
func unixRelay() string {
	GinkgoHelper()
	addr, ok := strings.CutPrefix(sut.DockerHost, "tcp://")
	if !ok {
		return sut.DockerHost
	}
	sock := filepath.Join(GinkgoT().TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ln.Close)
	halfClose := func(c net.Conn) {
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer client.Close()
				backend, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer backend.Close()
				sent := make(chan struct{})
				go func() { _, _ = io.Copy(backend, client); halfClose(backend); close(sent) }()
				_, _ = io.Copy(client, backend)
				halfClose(client)
				<-sent
			}()
		}
	}()
	return "unix://" + sock
}

var _ = Describe("docker run -it under a terminal", func() {
	It("runs an interactive shell with the terminal's size and resizes, and exits with its code under --rm", func() {
		path, id := cidFile()
		t := startTerminal(sut.DockerHost, 33, 111, "run", "-it", "--rm", "--cidfile", path, "busybox", "sh")
		t.expectPrompt()

		t.typeLine("echo $((6*7))")
		t.expectLine("42")

		t.typeLine("tty")
		t.expectLine(`/dev/pts/\d+`)

		t.expectSize("33", "111")
		// The CLI follows SIGWINCH with POST /containers/{id}/resize.
		Expect(pty.Setsize(t.tty, &pty.Winsize{Rows: 44, Cols: 122})).To(Succeed())
		t.expectSize("44", "122")

		t.typeLine("exit 3")
		Expect(t.expectExit()).To(Equal(3), "the terminal shows:\n%s", t.out.String())
		expectNothingLeft(id())
	})

	It("detaches with Ctrl-P Ctrl-Q leaving the shell running, and docker attach brings it back", func() {
		// The docker CLI (28.2) detaches on its own, without the daemon, and
		// recognises that it did only on a unix socket: on tcp:// the
		// connection wraps the CLI's EscapeError, and docker run -it waits for
		// the container's exit instead, with dockerd as well.
		host := unixRelay()
		name := "e2e-tty-detach-" + randomSuffix()
		DeferCleanup(func() { docker("rm", "-f", name) })
		t := startTerminal(host, 30, 100, "run", "-it", "--name", name, "busybox", "sh")
		t.expectPrompt()
		t.typeLine("X=kept; echo set-$X")
		t.expectLine("set-kept")

		t.typeKeys(0x10, 0x11) // Ctrl-P Ctrl-Q
		Expect(t.expectExit()).To(Equal(0), "the terminal shows:\n%s", t.out.String())

		r := docker("ps", "--filter", "name="+name, "--format", "{{.Names}} {{.State}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(name+" running\n"), "the container did not keep running after the detach")
		id := strings.TrimSpace(docker("inspect", "--format", "{{.Id}}", name).Stdout)
		Expect(id).To(MatchRegexp(`^[0-9a-f]{64}$`))

		a := startTerminal(host, 25, 90, "attach", name)
		// The same shell, in the new terminal's size, its variable still set.
		a.expectSize("25", "90")
		a.typeLine("echo again-$X")
		a.expectLine("again-kept")

		a.typeLine("exit")
		Expect(a.expectExit()).To(Equal(0), "the terminal shows:\n%s", a.out.String())
		r = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("exited 0\n"))
		Expect(docker("rm", name).Code).To(Equal(0))
		expectNothingLeft(id)
	})
})
