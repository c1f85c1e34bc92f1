package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// Roots of the files `docker stats` reads; tests point them elsewhere.
var (
	procRoot   = "/proc"
	cgroupRoot = "/sys/fs/cgroup"
)

// unlimited is the smallest cgroup v1 limit that means "no limit" (v1 writes
// PAGE_COUNTER_MAX rounded to pages, 0x7FFFFFFFFFFFF000 on 4 KiB pages).
const unlimited = 1 << 62

// readStats samples the sandbox's own accounting: the container's cgroup
// where it can be read (the simulator runs the function in a container with
// its memory limit), /proc otherwise (Lambda's micro-VM is the sandbox).
func readStats() *protocol.Stats {
	s := &protocol.Stats{Time: time.Now().UTC()}
	pids := append([]int{os.Getpid()}, descendants(os.Getpid())...)
	s.Pids = uint64(len(pids) - 1) // the container's processes, as Docker's, without its init (the agent)

	v2 := fileExists(filepath.Join(cgroupRoot, "cgroup.controllers"))
	if v2 {
		readCgroup2(s)
	} else {
		readCgroup1(s)
	}
	if s.CPUSource == "" {
		s.CPUTotalNs, s.CPUUserNs, s.CPUKernelNs = procCPU(pids)
		s.CPUSource = "proc"
	}
	if s.MemorySource == "" {
		s.MemoryUsage, s.MemoryLimit = procMemory()
		s.MemorySource = "proc"
	} else if s.MemoryLimit == 0 || s.MemoryLimit >= unlimited {
		_, s.MemoryLimit = procMemory()
	}
	s.SystemCPUNs, s.OnlineCPUs = systemCPU()
	s.Networks = netDev()
	return s
}

// cgroupDir is the container's own directory of a cgroup hierarchy:
// /sys/fs/cgroup[/controller]/<path from /proc/self/cgroup> when that exists
// (a host cgroup namespace), else the mount's root (a private namespace, or
// Docker's v1 bind mount of the container's cgroup).
func cgroupDir(controller, file string) string {
	base := cgroupRoot
	if controller != "" {
		base = filepath.Join(cgroupRoot, controller)
	}
	if b, err := os.ReadFile(filepath.Join(procRoot, "self", "cgroup")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) != 3 || f[2] == "/" {
				continue
			}
			match := controller == "" && f[0] == "0" && f[1] == ""
			for _, c := range strings.Split(f[1], ",") {
				match = match || (controller != "" && strings.Contains(controller, c) && c != "")
			}
			if match {
				if d := filepath.Join(base, f[2]); fileExists(filepath.Join(d, file)) {
					return d
				}
			}
		}
	}
	return base
}

func readCgroup2(s *protocol.Stats) {
	dir := cgroupDir("", "memory.current")
	if usage, ok := readUint(filepath.Join(dir, "memory.current")); ok {
		s.MemoryUsage, s.MemorySource = usage, "cgroup2"
		if limit, ok := readUint(filepath.Join(dir, "memory.max")); ok {
			s.MemoryLimit = limit // "max" does not parse: no limit
		}
		if peak, ok := readUint(filepath.Join(dir, "memory.peak")); ok {
			s.MemoryMaxUsage = peak
		}
		s.MemoryStats = readKeyed(filepath.Join(dir, "memory.stat"))
	}
	if cpu := readKeyed(filepath.Join(dir, "cpu.stat")); cpu != nil {
		if usage, ok := cpu["usage_usec"]; ok {
			s.CPUTotalNs, s.CPUUserNs, s.CPUKernelNs = usage*1000, cpu["user_usec"]*1000, cpu["system_usec"]*1000
			s.CPUSource = "cgroup2"
		}
	}
	if n, ok := readUint(filepath.Join(dir, "pids.max")); ok {
		s.PidsLimit = n
	}
	// io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N ...", one line per device.
	if b, err := os.ReadFile(filepath.Join(dir, "io.stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			major, minor, ok := devNumbers(f[0])
			if !ok {
				continue
			}
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					continue
				}
				switch k {
				case "rbytes":
					s.BlockIO = append(s.BlockIO, protocol.BlockIOStat{Major: major, Minor: minor, Op: "read", Value: n})
				case "wbytes":
					s.BlockIO = append(s.BlockIO, protocol.BlockIOStat{Major: major, Minor: minor, Op: "write", Value: n})
				}
			}
		}
	}
}

func readCgroup1(s *protocol.Stats) {
	mem := cgroupDir("memory", "memory.usage_in_bytes")
	if usage, ok := readUint(filepath.Join(mem, "memory.usage_in_bytes")); ok {
		s.MemoryUsage, s.MemorySource = usage, "cgroup1"
		if limit, ok := readUint(filepath.Join(mem, "memory.limit_in_bytes")); ok {
			s.MemoryLimit = limit
		}
		if peak, ok := readUint(filepath.Join(mem, "memory.max_usage_in_bytes")); ok {
			s.MemoryMaxUsage = peak
		}
		s.MemoryStats = readKeyed(filepath.Join(mem, "memory.stat"))
	}
	for _, ctl := range []string{"cpuacct", "cpu,cpuacct"} {
		dir := cgroupDir(ctl, "cpuacct.usage")
		if usage, ok := readUint(filepath.Join(dir, "cpuacct.usage")); ok {
			s.CPUTotalNs, s.CPUSource = usage, "cgroup1"
			// cpuacct.stat is in USER_HZ ticks.
			if st := readKeyed(filepath.Join(dir, "cpuacct.stat")); st != nil {
				s.CPUUserNs, s.CPUKernelNs = st["user"]*1e9/clockTicks, st["system"]*1e9/clockTicks
			}
			break
		}
	}
	if n, ok := readUint(filepath.Join(cgroupDir("pids", "pids.max"), "pids.max")); ok {
		s.PidsLimit = n
	}
	// blkio: "MAJ:MIN Op N" lines and a "Total N" line.
	blkio := cgroupDir("blkio", "blkio.throttle.io_service_bytes")
	for _, name := range []string{"blkio.throttle.io_service_bytes", "blkio.io_service_bytes"} {
		b, err := os.ReadFile(filepath.Join(blkio, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			major, minor, ok := devNumbers(f[0])
			n, err := strconv.ParseUint(f[2], 10, 64)
			if ok && err == nil {
				s.BlockIO = append(s.BlockIO, protocol.BlockIOStat{Major: major, Minor: minor, Op: f[1], Value: n})
			}
		}
		if len(s.BlockIO) > 0 {
			break
		}
	}
}

// procCPU sums the CPU time of the given processes from /proc/<pid>/stat:
// utime and stime, and cutime and cstime for the children they have reaped.
func procCPU(pids []int) (total, user, kernel uint64) {
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 15 {
			continue
		}
		num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
		user += num(11) + num(13)
		kernel += num(12) + num(14)
	}
	user, kernel = user*1e9/clockTicks, kernel*1e9/clockTicks
	return user + kernel, user, kernel
}

// procMemory is the machine's memory in use (MemTotal - MemAvailable) and the
// limit: the function's memory size, else MemTotal.
func procMemory() (usage, limit uint64) {
	m := readKeyed(filepath.Join(procRoot, "meminfo")) // values in kB
	total, avail := m["MemTotal:"]*1024, m["MemAvailable:"]*1024
	if avail <= total {
		usage = total - avail
	}
	limit = total
	if mb, err := strconv.ParseUint(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && mb > 0 {
		limit = mb << 20
	}
	return usage, limit
}

// systemCPU is the machine's CPU time from /proc/stat's first line, in
// nanoseconds, and its number of CPUs, as Docker computes them.
func systemCPU() (ns uint64, cpus uint32) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			cpus++
			continue
		}
		var ticks uint64
		for _, v := range f[1:min(len(f), 8)] { // user nice system idle iowait irq softirq
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
		ns = ticks * 1e9 / clockTicks
	}
	return ns, cpus
}

// netDev reads /proc/net/dev: the sandbox's interfaces but lo.
func netDev() map[string]protocol.NetStats {
	b, err := os.ReadFile(filepath.Join(procRoot, "net", "dev"))
	if err != nil {
		return nil
	}
	nets := map[string]protocol.NetStats{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		n := make([]uint64, 12)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		nets[name] = protocol.NetStats{
			RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11],
		}
	}
	return nets
}

// readUint reads a file holding one number; "max" and the like do not parse.
func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return n, err == nil
}

// readKeyed reads "key value" lines (memory.stat, cpu.stat, /proc/meminfo).
func readKeyed(path string) map[string]uint64 {
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	m := map[string]uint64{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			m[f[0]] = n
		}
	}
	return m
}

func devNumbers(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return major, minor, err1 == nil && err2 == nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
