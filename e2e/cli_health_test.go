package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("health checks", func() {
	It("make a container healthy once its check passes, as docker ps, inspect and events show", func() {
		name := "e2e-healthy-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "--health-cmd", "test -f /tmp/ready && echo ready",
			"--health-interval", "300ms", "--health-retries", "10", "busybox", "sh", "-c", "sleep 1; touch /tmp/ready; sleep 60")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Expect(r.Stderr).NotTo(ContainSubstring("health"), "no warning: health checks run")
		status := func() string {
			return strings.TrimSpace(docker("inspect", "--format", "{{.State.Health.Status}}", name).Stdout)
		}
		Expect(status()).To(Equal("starting"))
		Eventually(status).WithTimeout(30 * time.Second).Should(Equal("healthy"))
		Expect(docker("ps", "--filter", "name="+name, "--format", "{{.Status}}").Stdout).To(ContainSubstring("(healthy)"))
		Expect(docker("ps", "-q", "--filter", "name="+name, "--filter", "health=healthy").Stdout).NotTo(BeEmpty())
		Expect(docker("ps", "-q", "--filter", "name="+name, "--filter", "health=unhealthy").Stdout).To(BeEmpty())
		r = docker("inspect", "--format", "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}", name)
		Expect(r.Stdout).To(ContainSubstring("0:ready\n"))
		Eventually(func() string {
			return docker("events", "--since", "1m", "--until", "0s", "--filter", "container="+name, "--format", "{{.Action}}").Stdout
		}).WithTimeout(10 * time.Second).Should(ContainSubstring("health_status: healthy"))
	})

	It("make a container unhealthy after its retries fail", func() {
		name := "e2e-unhealthy-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "--health-cmd", "echo nope; exit 1",
			"--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() string {
			return docker("inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", name).Stdout
		}).WithTimeout(30 * time.Second).Should(MatchRegexp(`^unhealthy [2-9]\d*\n$`))
		r = docker("inspect", "--format", "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}", name)
		Expect(r.Stdout).To(ContainSubstring("1:nope\n"))
		Expect(docker("ps", "-q", "--filter", "name="+name, "--filter", "health=unhealthy").Stdout).NotTo(BeEmpty())
	})
})
