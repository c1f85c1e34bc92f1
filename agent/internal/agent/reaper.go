package agent

import (
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The agent reaps every child itself, with wait4(-1), instead of exec.Cmd.Wait:
// as PID 1 (or as a child subreaper) it inherits the container's orphans and
// must collect them, and a wait4(-1) loop would otherwise race Cmd.Wait for the
// main process's status. Processes are therefore started through
// reaper.start, which registers their PID before any status can be delivered.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
}

var (
	theReaper     *reaper
	theReaperOnce sync.Once
)

// getReaper starts the process-wide reaper on first use. It also makes the
// agent a child subreaper, so that processes which daemonize are re-parented
// to the agent, where they can be found and killed when the run ends.
func getReaper() *reaper {
	theReaperOnce.Do(func() {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		theReaper = &reaper{waiters: map[int]chan syscall.WaitStatus{}}
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, syscall.SIGCHLD)
		go theReaper.loop(ch)
	})
	return theReaper
}

func (r *reaper) loop(sigchld <-chan os.Signal) {
	// The ticker covers a SIGCHLD coalesced with one already being handled.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.reapAll()
		select {
		case <-sigchld:
		case <-tick.C:
		}
	}
}

func (r *reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		if ws.Stopped() || ws.Continued() {
			continue
		}
		r.mu.Lock()
		ch, ok := r.waiters[pid]
		delete(r.waiters, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		}
		// Otherwise an orphan that the agent inherited: collected, done.
	}
}

// start starts cmd and returns a channel that receives its wait status. The
// caller must not call cmd.Wait, and must give cmd only *os.File stdio so that
// exec starts no copying goroutines that only Wait would end.
func (r *reaper) start(cmd *exec.Cmd) (<-chan syscall.WaitStatus, error) {
	ch := make(chan syscall.WaitStatus, 1)
	// Holding mu across Start keeps reapAll from looking the PID up before it
	// is registered, even if the process exits at once.
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r.waiters[cmd.Process.Pid] = ch
	return ch, nil
}

// killDescendants SIGKILLs every process below the agent in the process tree:
// what is left of the container once its main process is gone. Docker gets
// the same effect by tearing down the PID namespace.
func killDescendants() {
	self := os.Getpid()
	// Killing can re-parent grandchildren to the agent; a few rounds settle it.
	for round := 0; round < 5; round++ {
		pids := descendants(self)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// descendants lists the PIDs below root, read from /proc.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name in parentheses may hold spaces; fields follow the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue // zombies are dead already; the reaper collects them
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
