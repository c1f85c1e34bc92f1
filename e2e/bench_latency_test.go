package e2e

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The latency benchmarks compare a time the container's process reads with
// the time the client sees the result. Both read /proc/uptime: the simulator
// and the local engine run containers on this kernel, so it is one clock
// (10 ms resolution).

func uptime(tb testing.TB) float64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		tb.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// BenchmarkExitToWait measures how long after a process ends `docker wait`
// returns its exit code (the bound: 500 ms).
func BenchmarkExitToWait(b *testing.B) {
	for _, t := range benchTargets(b) {
		b.Run(t.name, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				name := "bench-wait-" + randomSuffix()
				var out strings.Builder
				if err := t.docker(&out, "run", "-d", "--name", name, "busybox", "sh", "-c", "sleep 1; cut -d' ' -f1 /proc/uptime; exit 7"); err != nil {
					b.Fatal(err)
				}
				var code strings.Builder
				if err := t.docker(&code, "wait", name); err != nil {
					b.Fatal(err)
				}
				seen := uptime(b)
				if strings.TrimSpace(code.String()) != "7" {
					b.Fatalf("%s: docker wait said %q, not 7", t.name, code.String())
				}
				var logs strings.Builder
				if err := t.docker(&logs, "logs", name); err != nil {
					b.Fatal(err)
				}
				ended, err := strconv.ParseFloat(strings.TrimSpace(logs.String()), 64)
				if err != nil {
					b.Fatalf("%s: the container printed %q", t.name, logs.String())
				}
				total += seen - ended
				_ = t.docker(io.Discard, "rm", "-f", name)
			}
			b.ReportMetric(total/float64(b.N)*1000, "ms-exit-to-wait")
		})
	}
}

// BenchmarkLogsFollowLatency measures how long a line takes from the
// container's process to a `docker logs -f` reader.
func BenchmarkLogsFollowLatency(b *testing.B) {
	for _, t := range benchTargets(b) {
		b.Run(t.name, func(b *testing.B) {
			const lines = 20
			var total float64
			var count int
			for i := 0; i < b.N; i++ {
				name := "bench-follow-" + randomSuffix()
				script := "sleep 2; i=0; while [ $i -lt " + strconv.Itoa(lines) + " ]; do i=$((i+1)); cut -d' ' -f1 /proc/uptime; usleep 100000; done"
				if err := t.docker(io.Discard, "run", "-d", "--name", name, "busybox", "sh", "-c", script); err != nil {
					b.Fatal(err)
				}
				cmd := exec.Command("docker", "logs", "-f", name)
				cmd.Env = append(os.Environ(), t.env...)
				out, err := cmd.StdoutPipe()
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					seen := uptime(b)
					sent, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()), 64)
					if err != nil {
						b.Fatalf("%s: the container printed %q", t.name, sc.Text())
					}
					total += seen - sent
					count++
				}
				_ = cmd.Wait()
				_ = t.docker(io.Discard, "rm", "-f", name)
			}
			if count != lines*b.N {
				b.Fatalf("%s: docker logs -f gave %d lines, want %d", t.name, count, lines*b.N)
			}
			b.ReportMetric(total/float64(count)*1000, "ms-per-line")
		})
	}
}
