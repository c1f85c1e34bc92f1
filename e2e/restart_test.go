package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A backend killed with SIGKILL and started again from nothing rebuilds its
// containers from AWS: the journals in CloudWatch, the functions in Lambda
// and the exit records in the functions' logs.
var _ = Describe("a backend restarted from nothing", Serial, func() {
	It("shows the same containers, and waits and logs right", func() {
		suffix := randomSuffix()
		running, exited, created := "rs-run-"+suffix, "rs-exit-"+suffix, "rs-new-"+suffix

		r := docker("run", "-d", "--name", running, "busybox", "sh", "-c", "echo one; sleep 4; echo two; exit 5")
		Expect(r.Code).To(Equal(0), r.Stderr)
		keep := "rs-keep-" + suffix
		r = docker("run", "-d", "--name", keep, "busybox", "tail", "-f", "/dev/null")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("run", "-d", "--name", exited, "busybox", "sh", "-c", "echo done; echo oops >&2; exit 2")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("wait", exited).Stdout).To(Equal("2\n"))
		network := "rs-net-" + suffix
		Expect(docker("network", "create", network).Code).To(Equal(0))
		volume := "rs-vol-" + suffix
		r = docker("create", "--name", created, "--network", network, "-v", volume+":/data", "-e", "KEPT=yes", "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		// Restart policies across the backend's restart, as across dockerd's:
		// always starts again even after docker stop; unless-stopped not.
		always, unlessStopped := "rs-always-"+suffix, "rs-unless-"+suffix
		for _, n := range []string{always, unlessStopped} {
			policy := "always"
			if n == unlessStopped {
				policy = "unless-stopped"
			}
			r = docker("run", "-d", "--name", n, "--restart", policy, "busybox", "sleep", "60")
			Expect(r.Code).To(Equal(0), r.Stderr)
			Expect(docker("stop", "-t", "0", n).Code).To(Equal(0))
		}
		retried := "rs-retried-" + suffix
		r = docker("run", "-d", "--name", retried, "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 2")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Eventually(func() string {
			return docker("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", retried).Stdout
		}).WithTimeout(30 * time.Second).Should(Equal("1 exited\n"))
		// Let the running container's first line reach CloudWatch.
		Eventually(func() string { return docker("logs", running).Stdout }).WithTimeout(20 * 1e9).Should(Equal("one\n"))

		Expect(sut.restartBackendAfterKill()).To(Succeed())

		Eventually(func() []string {
			return strings.Fields(docker("ps", "-a", "--filter", "name=rs-.*-"+suffix, "--format", "{{.Names}} {{.State}}").Stdout)
		}).WithTimeout(60 * time.Second).Should(ConsistOf(
			keep, "running",
			running, Or(Equal("running"), Equal("exited")),
			exited, "exited",
			created, "created",
			always, "running",
			unlessStopped, "exited",
			retried, "exited",
		))
		Expect(docker("inspect", "--format", "{{.RestartCount}}", retried).Stdout).To(Equal("1\n"), "RestartCount did not survive the restart")

		r = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox")
		Expect(r.Stdout).To(Equal("busybox:latest\n"), "the image list did not survive the restart")

		r = docker("inspect", "--format", "{{.State.ExitCode}} {{.Config.Env}}", exited)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(HavePrefix("2 "))
		r = docker("inspect", "--format", "{{.Config.Env}}", created)
		Expect(r.Stdout).To(ContainSubstring("KEPT=yes"))
		Expect(docker("network", "inspect", network).Code).To(Equal(0), "the network did not survive the restart")
		r = docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}} {{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}", created)
		Expect(r.Stdout).To(Equal(network+" "+volume+":/data\n"), "the container's network and volume did not survive the restart")
		Expect(docker("volume", "ls", "-q", "--filter", "name="+volume).Stdout).To(Equal(volume+"\n"), "the volume did not survive the restart")
		Expect(docker("volume", "rm", volume).Stderr).To(ContainSubstring("volume is in use"))

		// The running container's agent lost its backend; its exit code is
		// recovered all the same.
		r = docker("wait", running)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("5\n"))
		Expect(docker("logs", running).Stdout).To(Equal("one\ntwo\n"))
		r = docker("logs", exited)
		Expect(r.Stdout).To(Equal("done\n"))
		Expect(r.Stderr).To(Equal("oops\n"))

		// A running container's agent redials the restarted backend (same
		// callback secret): exec works on it again.
		Eventually(func() string { return docker("exec", keep, "echo", "alive").Stdout }).
			WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Equal("alive\n"))
		Expect(docker("rm", "-f", keep).Code).To(Equal(0))

		Expect(docker("rm", "-f", always, unlessStopped, retried).Code).To(Equal(0))
		for _, name := range []string{running, exited, created} {
			Expect(docker("rm", name).Code).To(Equal(0))
		}
		Expect(docker("ps", "-a", "-q", "--filter", "name=rs-.*-"+suffix).Stdout).To(BeEmpty())
		Expect(docker("network", "rm", network).Code).To(Equal(0))
		Expect(docker("volume", "rm", volume).Code).To(Equal(0))
	})
})
