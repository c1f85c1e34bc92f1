package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("docker logs", func() {
	It("honours --tail, --timestamps, --since and --until, and keeps streams apart", func() {
		name := "e2e-logs-" + randomSuffix()
		r := docker("run", "--name", name, "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })

		r = docker("logs", name)
		Expect(r.Stdout).To(Equal("out1\nout2\nout3\nout4\nout5\n"))
		Expect(r.Stderr).To(Equal("err1\nerr2\nerr3\nerr4\nerr5\n"))

		r = docker("logs", "--tail", "2", name)
		Expect(r.Stdout + r.Stderr).To(SatisfyAll(ContainSubstring("5\n"), Not(ContainSubstring("out3"))))

		r = docker("logs", "--timestamps", name)
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			Expect(line).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out\d$`))
		}

		future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		Expect(docker("logs", "--since", future, name).Stdout).To(BeEmpty())
		past := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
		Expect(docker("logs", "--until", past, name).Stdout).To(BeEmpty())
	})

	It("follows a running container and ends when it stops", func() {
		name := "e2e-follow-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo first; sleep 2; echo second")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })

		cmd := exec.Command("docker", "logs", "-f", name)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+sut.DockerHost, "DOCKER_CONFIG="+dockerCfg)
		var out bytes.Buffer
		cmd.Stdout = &out
		Expect(cmd.Start()).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		Eventually(done).WithTimeout(60*time.Second).Should(Receive(BeNil()), "docker logs -f did not end when the container stopped")
		Expect(out.String()).To(Equal("first\nsecond\n"))
		Expect(regexp.MustCompile("first").FindAllString(out.String(), -1)).To(HaveLen(1), "a line was delivered twice")
	})

	It("follows a run whose only output came before the follower did", func() {
		name := "e2e-follow-early-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo early; echo early-err >&2; sleep 3")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		r = docker("logs", "-f", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("early\n"))
		Expect(r.Stderr).To(Equal("early-err\n"))
	})

	It("follows output that is not UTF-8 without losing what comes after it", func() {
		name := "e2e-follow-bytes-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c",
			`sleep 1; printf 'bin\377\376\n'; i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo after$i; usleep 50000; done`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() string { return docker("logs", name).Stdout }).WithTimeout(20 * time.Second).Should(ContainSubstring("after2\n"))
		r = docker("logs", "-f", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		var want strings.Builder
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(&want, "after%d\n", i)
		}
		_, after, found := strings.Cut(r.Stdout, "\n")
		Expect(found).To(BeTrue())
		Expect(after).To(Equal(want.String()))
	})

	It("follows live from the middle of a run: history and live output meet with nothing lost or doubled", func() {
		name := "e2e-follow-mid-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c",
			"i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo out$i; echo err$i >&2; usleep 10000; done")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		// Join once part of the output exists.
		Eventually(func() string { return docker("logs", name).Stdout }).WithTimeout(20 * time.Second).Should(ContainSubstring("out1\n"))

		cmd := exec.Command("docker", "logs", "-f", "--timestamps", name)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+sut.DockerHost, "DOCKER_CONFIG="+dockerCfg)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		Expect(cmd.Start()).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		Eventually(done).WithTimeout(60*time.Second).Should(Receive(BeNil()), "docker logs -f did not end when the container stopped")

		strip := func(s string) string {
			GinkgoHelper()
			var b strings.Builder
			for _, line := range strings.SplitAfter(s, "\n") {
				if line == "" {
					continue
				}
				ts, rest, ok := strings.Cut(line, " ")
				Expect(ok).To(BeTrue(), "a line without its timestamp: %q", line)
				Expect(ts).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$`))
				b.WriteString(rest)
			}
			return b.String()
		}
		var wantOut, wantErr strings.Builder
		for i := 1; i <= 300; i++ {
			fmt.Fprintf(&wantOut, "out%d\n", i)
			fmt.Fprintf(&wantErr, "err%d\n", i)
		}
		Expect(strip(out.String())).To(Equal(wantOut.String()))
		Expect(strip(errOut.String())).To(Equal(wantErr.String()))
	})
})
