package agent

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// clockTicks is USER_HZ, which is 100 on every Linux architecture Lambda runs.
const clockTicks = 100

// topTitles are the columns of `ps -ef`, which is what `docker top` shows
// without ps arguments.
var topTitles = []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}

// listProcesses lists the container's processes (everything below the
// agent) from /proc, so that `docker top` needs no ps in the image.
func listProcesses() (*protocol.Top, error) {
	boot, err := bootTime()
	if err != nil {
		return nil, err
	}
	users := map[uint32]string{}
	for _, p := range readPasswd() {
		if _, ok := users[p.uid]; !ok {
			users[p.uid] = p.name
		}
	}
	top := &protocol.Top{Titles: topTitles, Processes: [][]string{}}
	for _, pid := range descendants(os.Getpid()) {
		row, err := processRow(pid, boot, users)
		if err != nil {
			continue // it exited meanwhile
		}
		top.Processes = append(top.Processes, row)
	}
	return top, nil
}

func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, fmt.Errorf("top: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("top: btime: %w", err)
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("top: no btime in /proc/stat")
}

func processRow(pid int, boot time.Time, users map[uint32]string) ([]string, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(stat)
	open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closeIdx < open {
		return nil, fmt.Errorf("top: malformed %s/stat", dir)
	}
	comm := s[open+1 : closeIdx]
	f := strings.Fields(s[closeIdx+1:])
	if len(f) < 20 {
		return nil, fmt.Errorf("top: short %s/stat", dir)
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	cpu := (num(11) + num(12)) / clockTicks
	start := boot.Add(time.Duration(num(19)) * time.Second / clockTicks)

	var fi syscall.Stat_t
	uid := "?"
	if err := syscall.Stat(dir, &fi); err == nil {
		uid = strconv.Itoa(int(fi.Uid))
		if name, ok := users[fi.Uid]; ok {
			uid = name
		}
	}
	cmd := "[" + comm + "]"
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil && len(b) > 0 {
		cmd = string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
	}
	return []string{uid, strconv.Itoa(pid), f[1], "0", start.Format("15:04"), ttyName(num(4)),
		fmt.Sprintf("%02d:%02d:%02d", cpu/3600, cpu/60%60, cpu%60), cmd}, nil
}

// ttyName decodes /proc/<pid>/stat's tty_nr as ps does for pseudo-terminals.
func ttyName(nr int64) string {
	if nr == 0 {
		return "?"
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	if major >= 136 && major <= 143 {
		return "pts/" + strconv.FormatInt((major-136)*256+minor, 10)
	}
	return "?"
}

// signalAll sends sig to every process of the container: pause and unpause.
func signalAll(sig syscall.Signal) {
	for _, pid := range descendants(os.Getpid()) {
		_ = syscall.Kill(pid, sig)
	}
}
