package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// composeFile is a two-service project: a long-running service and a job that
// exits with the code given by JOB_EXIT, sharing a named volume (EFS). No
// published ports and no build:
// Lambda functions accept no inbound connections, and the backend builds no
// images.
const composeFile = `version: "3.8"
services:
  worker:
    image: busybox:latest
    command: ["sh", "-c", "echo worker-was-here > /shared/mark; echo \"worker $$ROLE ready\"; exec sleep 300"]
    environment:
      ROLE: background
    volumes:
      - shared:/shared
  job:
    image: busybox:latest
    command: ["sh", "-c", "echo job ran in $$(pwd); exit ${JOB_EXIT:-0}"]
    working_dir: /tmp
    volumes:
      - shared:/shared
volumes:
  shared: {}
`

// compose runs docker-compose (Debian's, the Python v1) on a project against
// the backend.
func compose(dir, project string, env []string, args ...string) result {
	return runCLI("docker-compose", append([]string{"--ansi", "never", "-p", project}, args...),
		append([]string{"DOCKER_HOST=" + sut.DockerHost, "DOCKER_CONFIG=" + dockerCfg, "DOCKER_CONTEXT="}, env...), dir, "")
}

// projectContainers lists the IDs of a compose project's containers.
func projectContainers(project string) []string {
	GinkgoHelper()
	r := docker("ps", "-a", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project="+project)
	Expect(r.Code).To(Equal(0), r.Stderr)
	return strings.Fields(r.Stdout)
}

var _ = Describe("docker-compose", func() {
	var dir, project string

	BeforeEach(func() {
		if _, err := exec.LookPath("docker-compose"); err != nil {
			Fail("docker-compose is not installed (Debian: apt-get install docker-compose): the compose specs drive it")
		}
		dir = GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(composeFile), 0o644)).To(Succeed())
		project = "e2e" + randomSuffix()
		DeferCleanup(func() { compose(dir, project, nil, "down", "--volumes", "--timeout", "1") })
	})

	It("brings a two-service stack up and down, with ps and logs", func() {
		r := compose(dir, project, nil, "up", "-d")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stderr).To(ContainSubstring(`Creating network "` + project + `_default" with the default driver`))

		// The project's network is recorded, with both containers on it.
		r = docker("network", "inspect", "--format", "{{.Name}} {{index .Labels \"com.docker.compose.project\"}}", project+"_default")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(project + "_default " + project + "\n"))
		r = docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.Aliases}}{{end}}", project+"_worker_1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`^`+project+`_default \[(.* )?worker( .*)?\]\n$`), "the service name is an alias on the project's network")

		ids := projectContainers(project)
		Expect(ids).To(HaveLen(2))

		// The job runs to completion; the worker keeps running.
		r = docker("wait", project+"_job_1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("0\n"))

		r = compose(dir, project, nil, "ps", "--services", "--filter", "status=running")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("worker\n"))
		r = compose(dir, project, nil, "ps", "--services", "--filter", "status=stopped")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("job\n"))
		r = compose(dir, project, nil, "ps")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`(?m)^` + project + `_job_1\s.*\sExit 0\s`))
		Expect(r.Stdout).To(MatchRegexp(`(?m)^` + project + `_worker_1\s.*\sUp\s`))

		r = compose(dir, project, nil, "logs", "--no-color", "job")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`(?m)^job_1\s+\| job ran in /tmp$`))
		// The worker prints its line once it has started; wait for it as a user would.
		Eventually(func() string {
			return compose(dir, project, nil, "logs", "--no-color", "worker").Stdout
		}).WithTimeout(30 * time.Second).WithPolling(250 * time.Millisecond).Should(MatchRegexp(`(?m)^worker_1\s+\| worker background ready$`))

		// The services share the project's named volume.
		r = compose(dir, project, nil, "run", "--rm", "-T", "job", "cat", "/shared/mark")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("worker-was-here\n"))

		r = compose(dir, project, nil, "down", "--volumes", "--timeout", "2")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stderr).To(ContainSubstring("Removing network " + project + "_default"))
		Expect(r.Stderr).To(ContainSubstring("Removing volume " + project + "_shared"))
		Expect(docker("volume", "ls", "-q", "--filter", "name="+project).Stdout).To(BeEmpty(), "down --volumes removes the project's volume")
		Expect(projectContainers(project)).To(BeEmpty())
		r = docker("network", "ls", "-q", "--filter", "name="+project)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(BeEmpty(), "the project's network is removed by down")
		for _, id := range ids {
			expectNothingLeft(id)
		}
	})

	It("runs the stack attached and exits with the job's code (up --exit-code-from)", func() {
		r := compose(dir, project, []string{"JOB_EXIT=5"}, "up", "--no-color", "--exit-code-from", "job")
		Expect(r.Code).To(Equal(5), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`(?m)^job_1\s+\| job ran in /tmp$`))

		// --abort-on-container-exit stopped the worker as well.
		r = compose(dir, project, nil, "ps", "--services", "--filter", "status=running")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(strings.TrimSpace(r.Stdout)).To(BeEmpty())

		ids := projectContainers(project)
		Expect(ids).To(HaveLen(2))
		r = compose(dir, project, nil, "down")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(projectContainers(project)).To(BeEmpty())
		for _, id := range ids {
			expectNothingLeft(id)
		}
	})

	It("starts a service once the one it depends on is healthy (condition: service_healthy)", func() {
		healthy := `version: "2.4"
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 300"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      retries: 20
  app:
    image: busybox:latest
    command: ["echo", "app ran"]
    depends_on:
      db:
        condition: service_healthy
`
		Expect(os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(healthy), 0o644)).To(Succeed())
		r := compose(dir, project, nil, "up", "-d")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("wait", project+"_app_1").Stdout).To(Equal("0\n"))
		Expect(docker("inspect", "--format", "{{.State.Health.Status}}", project+"_db_1").Stdout).To(Equal("healthy\n"))
		// The app started after the db's first passing check.
		r = docker("inspect", "--format", `{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End.UnixNano}} {{end}}{{end}}`, project+"_db_1")
		firstOK, err := strconv.ParseInt(strings.Fields(r.Stdout)[0], 10, 64)
		Expect(err).NotTo(HaveOccurred(), r.Stdout)
		started, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(docker("inspect", "--format", "{{.State.StartedAt}}", project+"_app_1").Stdout))
		Expect(err).NotTo(HaveOccurred())
		Expect(started.UnixNano()).To(BeNumerically(">=", firstOK))
		Expect(compose(dir, project, nil, "logs", "--no-color", "app").Stdout).To(MatchRegexp(`(?m)^app_1\s+\| app ran$`))
	})
})
