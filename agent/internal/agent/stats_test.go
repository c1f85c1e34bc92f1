package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeRoots points readStats at files written by the test.
func fakeRoots(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oldProc, oldCg := procRoot, cgroupRoot
	procRoot, cgroupRoot = filepath.Join(dir, "proc"), filepath.Join(dir, "cgroup")
	t.Cleanup(func() { procRoot, cgroupRoot = oldProc, oldCg })
}

var fakeProc = map[string]string{
	"proc/stat":    "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\n",
	"proc/meminfo": "MemTotal:       2048 kB\nMemAvailable:   1024 kB\n",
	"proc/net/dev": "Inter-|\n face |\n    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  eth0: 290 3 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n",
}

func TestStatsCgroup2(t *testing.T) {
	files := map[string]string{
		"cgroup/cgroup.controllers": "cpu memory pids io\n",
		"cgroup/memory.current":     "4096\n",
		"cgroup/memory.max":         "1073741824\n",
		"cgroup/memory.stat":        "anon 1024\ninactive_file 512\n",
		"cgroup/cpu.stat":           "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n",
		"cgroup/io.stat":            "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n",
	}
	for k, v := range fakeProc {
		files[k] = v
	}
	fakeRoots(t, files)
	s := readStats()
	if s.MemoryUsage != 4096 || s.MemoryLimit != 1<<30 || s.MemoryStats["inactive_file"] != 512 || s.MemorySource != "cgroup2" {
		t.Errorf("memory: %+v", s)
	}
	if s.CPUTotalNs != 2_000_000 || s.CPUUserNs != 1_500_000 || s.CPUSource != "cgroup2" {
		t.Errorf("cpu: %+v", s)
	}
	if s.SystemCPUNs != 10_000_000_000 || s.OnlineCPUs != 2 {
		t.Errorf("system cpu: %d ns, %d cpus", s.SystemCPUNs, s.OnlineCPUs)
	}
	if len(s.Networks) != 1 || s.Networks["eth0"].RxBytes != 290 || s.Networks["eth0"].TxBytes != 100 {
		t.Errorf("networks: %+v", s.Networks)
	}
	if len(s.BlockIO) != 2 || s.BlockIO[0].Op != "read" || s.BlockIO[1].Value != 20 {
		t.Errorf("block io: %+v", s.BlockIO)
	}
}

func TestStatsProcFallback(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
	fakeRoots(t, fakeProc)
	s := readStats()
	if s.MemoryUsage != 1024*1024 || s.MemoryLimit != 512<<20 || s.MemorySource != "proc" || s.CPUSource != "proc" {
		t.Errorf("fallback: %+v", s)
	}
}
