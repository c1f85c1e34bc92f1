package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("container lifecycle commands", func() {
	It("renames a container for real: ps shows the new name, the old one is free", func() {
		old, renamed := "e2e-old-"+randomSuffix(), "e2e-new-"+randomSuffix()
		r := docker("create", "--name", old, "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id := strings.TrimSpace(r.Stdout)
		Expect(docker("rename", old, renamed).Code).To(Equal(0))
		r = docker("ps", "-a", "--filter", "id="+id, "--format", "{{.Names}}")
		Expect(r.Stdout).To(Equal(renamed + "\n"))
		Expect(docker("inspect", old).Code).NotTo(Equal(0))
		Expect(docker("rm", renamed).Code).To(Equal(0))
		expectNothingLeft(id)
	})

	It("restarts an exited container: the command runs again", func() {
		name := "e2e-restart-" + randomSuffix()
		r := docker("run", "--name", name, "busybox", "echo", "again")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("restart", name).Code).To(Equal(0))
		Expect(docker("wait", name).Stdout).To(Equal("0\n"))
		Eventually(func() string { return docker("logs", name).Stdout }).WithTimeout(20 * 1e9).Should(Equal("again\nagain\n"))
		// As dockerd: a restart by hand starts the policy's count again.
		Expect(docker("inspect", "--format", "{{.RestartCount}}", name).Stdout).To(Equal("0\n"))
		Expect(docker("rm", name).Code).To(Equal(0))
	})

	It("filters docker ps by status, label, exited code, ancestor, before and since", func() {
		s := randomSuffix()
		first := docker("run", "--name", "e2e-ps1-"+s, "--label", "suite="+s, "busybox", "sh", "-c", "exit 3")
		Expect(first.Code).To(Equal(3))
		r := docker("create", "--name", "e2e-ps2-"+s, "--label", "suite="+s, "--label", "role=b", "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)

		names := func(args ...string) []string {
			r := docker(append([]string{"ps", "-a", "--format", "{{.Names}}", "--filter", "label=suite=" + s}, args...)...)
			Expect(r.Code).To(Equal(0), r.Stderr)
			return strings.Fields(r.Stdout)
		}
		Expect(names()).To(ConsistOf("e2e-ps1-"+s, "e2e-ps2-"+s))
		Expect(names("--filter", "status=exited")).To(ConsistOf("e2e-ps1-" + s))
		Expect(names("--filter", "status=created")).To(ConsistOf("e2e-ps2-" + s))
		Expect(names("--filter", "exited=3")).To(ConsistOf("e2e-ps1-" + s))
		Expect(names("--filter", "label=role=b")).To(ConsistOf("e2e-ps2-" + s))
		Expect(names("--filter", "ancestor=busybox")).To(ConsistOf("e2e-ps1-"+s, "e2e-ps2-"+s))
		Expect(names("--filter", "since=e2e-ps1-"+s)).To(ConsistOf("e2e-ps2-" + s))
		Expect(names("--filter", "before=e2e-ps2-"+s)).To(ConsistOf("e2e-ps1-" + s))

		r = docker("ps", "--filter", "status=bogus")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("invalid filter 'status=bogus'"))

		r = docker("container", "prune", "-f", "--filter", "label=suite="+s)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(names()).To(BeEmpty())
	})

	It("keeps the container's record in the journal log group, apart from the functions' output", func() {
		r := docker("create", "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id := strings.TrimSpace(r.Stdout)
		Expect(logStreams(journalLogGroup(), "sockerless/containers/"+id)).To(Equal([]string{"sockerless/containers/" + id}))
		Expect(logStreams(functionLogGroup(), "sockerless/containers/"+id)).To(BeEmpty())
		Expect(docker("rm", id).Code).To(Equal(0))
		expectNothingLeft(id)
	})

	It("updates the memory of a container's function", func() {
		name := "e2e-update-" + randomSuffix()
		r := docker("create", "--name", name, "-m", "256m", "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id := strings.TrimSpace(r.Stdout)
		Expect(lambdaMemory(id)).To(BeEquivalentTo(256))
		r = docker("update", "-m", "512m", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(lambdaMemory(id)).To(BeEquivalentTo(512))
		Expect(docker("inspect", "--format", "{{.HostConfig.Memory}}", name).Stdout).To(Equal("536870912\n"))
		Expect(docker("rm", name).Code).To(Equal(0))
	})
})

var _ = Describe("a paused container", func() {
	It("shows as paused in ps, inspect and info until unpaused", func() {
		name := "e2e-paused-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sleep", "60")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() int { return docker("pause", name).Code }).WithTimeout(30 * 1e9).Should(Equal(0))

		Expect(docker("inspect", "--format", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", name).Stdout).To(Equal("paused true true\n"))
		r = docker("ps", "--filter", "status=paused", "--format", "{{.Names}} {{.Status}}")
		Expect(r.Stdout).To(MatchRegexp(name + ` Up .* \(Paused\)`))
		Expect(docker("info", "--format", "{{.ContainersPaused}}").Stdout).NotTo(Equal("0\n"))

		Expect(docker("unpause", name).Code).To(Equal(0))
		Expect(docker("inspect", "--format", "{{.State.Status}}", name).Stdout).To(Equal("running\n"))
	})
})

var _ = Describe("docker stop", func() {
	It("sends SIGTERM, which the process can handle", func() {
		name := "e2e-stop-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c", `trap "echo got-term; exit 0" TERM; echo ready; while true; do sleep 0.1; done`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() string { return docker("logs", name).Stdout }).WithTimeout(30 * time.Second).Should(Equal("ready\n"))
		r = docker("stop", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout).To(Equal("exited 0\n"))
		Expect(docker("logs", name).Stdout).To(Equal("ready\ngot-term\n"))
	})

	It("kills with SIGKILL after the grace period when SIGTERM is ignored", func() {
		name := "e2e-stop-kill-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c", `trap "" TERM; echo ready; while true; do sleep 0.1; done`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() string { return docker("logs", name).Stdout }).WithTimeout(30 * time.Second).Should(Equal("ready\n"))
		r = docker("stop", "-t", "1", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("inspect", "--format", "{{.State.ExitCode}}", name).Stdout).To(Equal("137\n"))
		Expect(docker("stop", name).Code).To(Equal(0), "stopping a stopped container is not an error (304)")
	})
})
