package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// cidFile returns a path for docker run --cidfile and a reader of the ID.
func cidFile() (string, func() string) {
	path := filepath.Join(GinkgoT().TempDir(), "cid")
	return path, func() string {
		GinkgoHelper()
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred(), "docker run wrote no container ID")
		return strings.TrimSpace(string(b))
	}
}

var _ = Describe("docker run with the docker CLI", func() {
	It("prints the output, exits 0 and leaves nothing behind with --rm", func() {
		path, id := cidFile()
		r := docker("run", "--rm", "--cidfile", path, "busybox", "echo", "hello")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("hello\n"))
		expectNothingLeft(id())
	})

	It("keeps stdout and stderr apart and exits with the command's code", func() {
		path, id := cidFile()
		r := docker("run", "--rm", "--cidfile", path, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
		Expect(r.Code).To(Equal(3), "docker run must exit with the command's exit code (3); stderr: %s", r.Stderr)
		Expect(r.Stdout).To(Equal("out\n"))
		Expect(r.Stderr).To(Equal("err\n"))
		expectNothingLeft(id())
	})

	It("runs detached; wait, logs and rm work on it", func() {
		name := "x" // a one-character name, as in the walking skeleton's example
		if docker("inspect", name).Code == 0 {
			name = "e2e-detached-" + randomSuffix()
		}
		r := docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo a; sleep 1; echo b")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id := strings.TrimSpace(r.Stdout)
		Expect(id).To(MatchRegexp(`^[0-9a-f]{64}$`))

		r = docker("wait", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("0\n"))

		r = docker("logs", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("a\nb\n"))

		r = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.Name}}", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("exited 0 /" + name + "\n"))

		r = docker("ps", "-a", "--filter", "name="+name, "--format", "{{.Names}} {{.Status}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(HavePrefix(name + " Exited (0)"))

		r = docker("rm", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		expectNothingLeft(id)
	})

	It("fails as Docker does for an image that exists nowhere, leaving nothing behind", func() {
		before := docker("ps", "-a", "-q")
		r := docker("run", "--rm", "sockerless-no-such-image-anywhere", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("Unable to find image 'sockerless-no-such-image-anywhere:latest' locally"))
		Expect(r.Stderr).To(ContainSubstring("pull access denied for sockerless-no-such-image-anywhere, repository does not exist"))
		Expect(docker("ps", "-a", "-q").Stdout).To(Equal(before.Stdout))
	})

	It("refuses a bad container name with Docker's error, leaving nothing behind", func() {
		before := docker("ps", "-a", "-q")
		r := docker("run", "--rm", "--name", "bad name!", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"))
		Expect(docker("ps", "-a", "-q").Stdout).To(Equal(before.Stdout))
	})

	It("refuses a name already in use with Docker's conflict error", func() {
		name := "e2e-conflict-" + randomSuffix()
		r := docker("create", "--name", name, "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id := strings.TrimSpace(r.Stdout)
		r = docker("create", "--name", name, "busybox", "true")
		Expect(r.Code).To(Equal(1)) // docker create, unlike run, exits 1 on a daemon error
		Expect(r.Stderr).To(ContainSubstring(`Conflict. The container name "/` + name + `" is already in use by container "` + id + `"`))
		Expect(docker("rm", name).Code).To(Equal(0))
		expectNothingLeft(id)
	})
})

var _ = Describe("settings Lambda cannot honour", func() {
	It("are named in one warning, and the container runs", func() {
		r := docker("run", "--rm", "--cpus", "1", "--dns", "192.0.2.1", "--cap-add", "NET_ADMIN", "--ulimit", "nofile=1024:1024", "busybox", "echo", "ran")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("ran\n"))
		Expect(r.Stderr).To(ContainSubstring("WARNING: Ignored on Lambda: --cap-add, --cap-drop, --security-opt, --group-add (the sandbox fixes them); --cpus, --cpu-shares, --cpu-quota, --cpuset-cpus (CPU follows the memory size); --dns, --dns-search, --dns-option, --add-host (Lambda sets the function's name resolution); --pids-limit, --ulimit,"))
	})

	It("refuses a --platform the functions do not run on", func() {
		r := docker("run", "--rm", "--platform", "linux/arm64", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring(`platform "linux/arm64" is not available: this backend runs every container as a Lambda function on linux/amd64`))
		r = docker("run", "--rm", "--platform", "linux/amd64", "busybox", "echo", "amd64")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("amd64\n"))
	})

	It("refuses shared namespaces with the reason", func() {
		r := docker("run", "--rm", "--pid", "host", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("--pid=host is not supported: each Lambda function has its own sandbox"))
	})
})

var _ = Describe("the function's time limit", func() {
	It("ends a container that outlives it with 137 and says why, live and in docker logs", func() {
		at := secondBackendOnSocket("SOCKERLESS_LAMBDA_TIMEOUT=4")
		name := "e2e-timeout-" + randomSuffix()
		r := dockerAt(at, "run", "--name", name, "busybox", "sh", "-c", "echo started; sleep 60")
		Expect(r.Code).To(Equal(137), r.Stderr)
		Expect(r.Stdout).To(Equal("started\n"))
		const why = "sockerless: the process was killed: the Lambda invocation reached its time limit"
		Expect(r.Stderr).To(ContainSubstring(why))
		Eventually(func() string { return dockerAt(at, "logs", name).Stderr }).WithTimeout(20 * time.Second).Should(ContainSubstring(why))
		Expect(dockerAt(at, "inspect", "--format", "{{.State.ExitCode}} {{.State.Error}}", name).Stdout).
			To(Equal("137 the process was killed because the Lambda invocation deadline was reached\n"))
		Expect(dockerAt(at, "rm", name).Code).To(Equal(0))
	})
})

var _ = Describe("docker run -u", func() {
	It("warns that Lambda's one sandbox user runs the process, and runs it", func() {
		r := docker("run", "--rm", "-u", "1000:1000", "busybox", "id", "-u")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stderr).To(ContainSubstring(`WARNING: User "1000:1000" is not honoured: Lambda runs every function as one unprivileged user`))
		Expect(r.Stdout).NotTo(Equal("1000\n"))
		Expect(r.Stdout).To(MatchRegexp(`^\d+\n$`))
	})
})

var _ = Describe("the backend binary", func() {
	It("stops at start with one line naming a bad variable and what is allowed", func() {
		bin := filepath.Join(repoRoot(), "bin", "sockerless-backend-lambda")
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(),
			"SOCKERLESS_LAMBDA_ROLE_ARN=arn:aws:iam::123456789012:role/r",
			"SOCKERLESS_CALLBACK_URL=ws://127.0.0.1:1",
			"SOCKERLESS_LAMBDA_MEMORY_SIZE=64")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		Expect(errors.As(err, &ee)).To(BeTrue(), "the backend started with a bad memory size")
		Expect(ee.ExitCode()).To(Equal(2))
		Expect(string(out)).To(Equal("sockerless-backend-lambda: SOCKERLESS_LAMBDA_MEMORY_SIZE: \"64\" is not allowed: a whole number of MB from 128 to 10240\n"))
	})
})
