package e2e

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The way CI runners (GitLab Runner's docker executor, GitHub Actions' job
// containers, Jenkins' docker agents) use a daemon: one long-lived container
// whose command only keeps it alive, every step run in it with docker exec,
// plus short helper containers run to completion one after another.
var _ = Describe("CI-runner patterns", func() {
	It("drives a keep-alive container through a sequence of docker exec steps, then removes it", func() {
		name := "e2e-ci-job-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "-e", "CI=true", "-w", "/tmp", "busybox", "tail", "-f", "/dev/null")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id := strings.TrimSpace(r.Stdout)
		DeferCleanup(func() { docker("rm", "-f", name) })

		type step struct {
			args   []string // docker exec options and command, after the container name is inserted
			code   int
			stdout string
			stderr string
		}
		steps := []step{
			// The container's own env and workdir apply to a plain step.
			{args: []string{"sh", "-c", `echo "ci=$CI pwd=$(pwd)"`}, stdout: "ci=true pwd=/tmp\n"},
			// A step that writes the workspace...
			{args: []string{"-w", "/tmp", "sh", "-c", "mkdir -p build && echo artifact-1 > build/out.txt"}},
			// ...and the next one reads it: steps share the container's /tmp.
			{args: []string{"cat", "/tmp/build/out.txt"}, stdout: "artifact-1\n"},
			// Per-step env and workdir, overriding the container's.
			{args: []string{"-e", "STAGE=test", "-e", "CI=overridden", "-w", "/tmp/build", "sh", "-c", `echo "$STAGE $CI $(pwd) $(cat out.txt)"`},
				stdout: "test overridden /tmp/build artifact-1\n"},
			// A failing step: its code and its stderr, and the container lives on.
			{args: []string{"sh", "-c", "echo 'tests failed' >&2; exit 42"}, code: 42, stderr: "tests failed\n"},
			{args: []string{"sh", "-c", "test -f /tmp/build/missing"}, code: 1},
			{args: []string{"no-such-tool"}, code: 127},
			// A step after failures still runs, and sees the earlier steps' files.
			{args: []string{"sh", "-c", "echo artifact-2 >> /tmp/build/out.txt && wc -l < /tmp/build/out.txt"}, stdout: "2\n"},
		}
		for i, s := range steps {
			// docker exec [options] NAME CMD...: the options come before the name.
			split := 0
			for split < len(s.args) && strings.HasPrefix(s.args[split], "-") {
				split += 2
			}
			args := append([]string{"exec"}, s.args[:split]...)
			args = append(args, name)
			args = append(args, s.args[split:]...)
			r := docker(args...)
			desc := fmt.Sprintf("step %d: docker %s", i+1, strings.Join(args, " "))
			Expect(r.Code).To(Equal(s.code), "%s\nstderr: %s", desc, r.Stderr)
			Expect(r.Stdout).To(Equal(s.stdout), desc)
			if s.code == 127 {
				Expect(r.Stderr).To(ContainSubstring("no-such-tool"), desc) // the daemon's message names the missing command
			} else {
				Expect(r.Stderr).To(Equal(s.stderr), desc)
			}
		}

		r = docker("inspect", "--format", "{{.State.Status}}", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("running\n"), "the job container must outlive its steps, failed ones included")

		r = docker("rm", "-f", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(name + "\n"))
		expectNothingLeft(id)
	})

	It("runs short helper containers in a row, each with its own exit code and output", func() {
		helpers := []struct {
			script string
			code   int
			stdout string
		}{
			{"echo restore-cache; exit 0", 0, "restore-cache\n"},
			{"echo lint; exit 1", 1, "lint\n"},
			{"echo checkout; echo $((6*7))", 0, "checkout\n42\n"},
			{"echo upload; exit 3", 3, "upload\n"},
			{"exit 0", 0, ""},
		}
		before := docker("ps", "-a", "-q")
		Expect(before.Code).To(Equal(0), before.Stderr)
		for i, h := range helpers {
			path, id := cidFile()
			r := docker("run", "--rm", "--cidfile", path, "busybox", "sh", "-c", h.script)
			desc := fmt.Sprintf("helper %d: %s", i+1, h.script)
			Expect(r.Code).To(Equal(h.code), "%s\nstderr: %s", desc, r.Stderr)
			Expect(r.Stdout).To(Equal(h.stdout), desc)
			expectNothingLeft(id())
		}
		after := docker("ps", "-a", "-q")
		Expect(after.Stdout).To(Equal(before.Stdout), "helpers run with --rm leave no container behind")
	})
})
