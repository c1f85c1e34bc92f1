package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// The benchmarks start their own stack (the ginkgo suite's is not running
// under -run '^$'); TestMain stops it.
var (
	benchOnce  sync.Once
	benchStack *stack
	benchErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStack != nil {
		benchStack.stop()
	}
	os.Exit(code)
}

// benchTarget is a Docker daemon the benchmarks drive with the docker CLI.
type benchTarget struct {
	name string
	env  []string
}

func (t benchTarget) docker(stdout io.Writer, args ...string) error {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), t.env...)
	cmd.Stdout = stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker %s on %s: %w: %s", strings.Join(args, " "), t.name, err, stderr.String())
	}
	return nil
}

func benchTargets(b *testing.B) []benchTarget {
	b.Helper()
	benchOnce.Do(func() { benchStack, benchErr = startStack() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	cfg := b.TempDir()
	return []benchTarget{
		{"sockerless", []string{"DOCKER_HOST=" + benchStack.DockerHost, "DOCKER_CONFIG=" + cfg, "DOCKER_CONTEXT="}},
		{"local-engine", []string{"DOCKER_HOST=" + envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock"), "DOCKER_CONFIG=" + cfg, "DOCKER_CONTEXT="}},
	}
}

// keepAliveContainer starts busybox `tail -f /dev/null` on t and returns its
// name; it is removed when the benchmark ends.
func keepAliveContainer(b *testing.B, t benchTarget) string {
	b.Helper()
	name := "bench-" + randomSuffix()
	if err := t.docker(io.Discard, "run", "-d", "--name", name, "busybox", "tail", "-f", "/dev/null"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = t.docker(io.Discard, "rm", "-f", name) })
	return name
}

// BenchmarkDockerExec measures `docker exec` on the backend beside the same
// command on the local Docker engine: the round trip of a command that does
// nothing, and the throughput of 64 MiB of stdout.
func BenchmarkDockerExec(b *testing.B) {
	const size = 64 << 20
	for _, t := range benchTargets(b) {
		name := keepAliveContainer(b, t)
		b.Run("roundtrip/"+t.name, func(b *testing.B) {
			for b.Loop() {
				if err := t.docker(io.Discard, "exec", name, "true"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("stdout-64MiB/"+t.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				var n countWriter
				if err := t.docker(&n, "exec", name, "head", "-c", fmt.Sprint(size), "/dev/zero"); err != nil {
					b.Fatal(err)
				}
				if n != size {
					b.Fatalf("read %d bytes, want %d", n, size)
				}
			}
		})
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
