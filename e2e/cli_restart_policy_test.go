package e2e

import (
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("restart policies", func() {
	It("restart a failing container on-failure up to its maximum", func() {
		name := "e2e-onfailure-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() string {
			return docker("inspect", "--format", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", name).Stdout
		}).WithTimeout(60 * time.Second).Should(Equal("2 exited 3\n"))
		Consistently(func() string {
			return docker("inspect", "--format", "{{.RestartCount}}", name).Stdout
		}).WithTimeout(2 * time.Second).Should(Equal("2\n"))
		Eventually(func() string { return docker("logs", name).Stdout }).WithTimeout(20 * time.Second).Should(Equal("run\nrun\nrun\n"))
	})

	It("restart always until docker stop, and refuse --restart with --rm", func() {
		name := "e2e-always-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.3")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		restarts := func() int {
			n, _ := strconv.Atoi(strings.TrimSpace(docker("inspect", "--format", "{{.RestartCount}}", name).Stdout))
			return n
		}
		Eventually(restarts).WithTimeout(60 * time.Second).Should(BeNumerically(">=", 2))
		// Between a run and the next, as dockerd shows it.
		Eventually(func() string {
			return docker("inspect", "--format", "{{.State.Status}} {{.State.Restarting}}", name).Stdout
		}).WithTimeout(60 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal("restarting true\n"))
		Expect(docker("stop", "-t", "1", name).Code).To(Equal(0))
		count := docker("inspect", "--format", "{{.RestartCount}}", name).Stdout
		Consistently(func() string {
			return docker("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", name).Stdout
		}).WithTimeout(3 * time.Second).Should(Equal(strings.TrimSpace(count) + " exited\n"))

		r = docker("run", "--rm", "--restart", "always", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("conflicting options: cannot specify both --restart and --rm"))
	})
})
