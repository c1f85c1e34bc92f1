package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// defaultPath is used to find Args[0] when Process.Env has no PATH; it is
// Docker's default and is not added to the environment.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exit codes of a process that could not start, as Docker sets them.
const (
	exitCannotInvoke = 126 // permission denied, is a directory
	exitNotFound     = 127 // command not found
	exitUnknown      = 128 // any other start failure
)

// startError is a process that could not be started: Docker's message and
// exit code.
type startError struct {
	Code int
	Msg  string
}

func (e *startError) Error() string { return e.Msg }

// newStartError classifies a start failure the way dockerd does
// (daemon/errors.go setExitCodeFromError), from its message.
func newStartError(msg string) *startError {
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, syscall.EACCES.Error()):
		return &startError{exitCannotInvoke, msg}
	case strings.Contains(lower, syscall.EISDIR.Error()):
		// dockerd appends this so that the CLI, which looks for it, exits 126.
		return &startError{exitCannotInvoke, msg + ": " + syscall.EACCES.Error()}
	case strings.Contains(lower, syscall.ENOTDIR.Error()),
		strings.Contains(lower, "executable file not found"),
		strings.Contains(lower, "no such file or directory"):
		return &startError{exitNotFound, msg}
	default:
		return &startError{exitUnknown, msg}
	}
}

// proc is a started process.
type proc struct {
	pid    int
	status <-chan syscall.WaitStatus
	// Parent ends: stdout carries the pty's output when tty is set; stderr is
	// nil then. stdin is nil when the process reads /dev/null.
	stdout, stderr *os.File
	stdin          *os.File
	tty            *os.File // the pty master, for resize
}

// signalProcess delivers sig to the process alone, as `docker kill -s`
// signals the container's first process and no other.
func (p *proc) signalProcess(sig syscall.Signal) error {
	if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process %d: %w", sig, p.pid, err)
	}
	return nil
}

// signal delivers sig to the process group: how the run ends it.
func (p *proc) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.pid, err)
	}
	return nil
}

func (p *proc) resize(rows, cols uint) error {
	if p.tty == nil {
		return nil
	}
	if err := pty.Setsize(p.tty, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}); err != nil {
		return fmt.Errorf("resize tty: %w", err)
	}
	return nil
}

// closeParentEnds releases the agent's ends of the stdio once nothing reads or
// writes them any more.
func (p *proc) closeParentEnds() {
	for _, f := range []*os.File{p.stdout, p.stderr, p.stdin} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// startProcess runs spec as Docker would run a container's command.
func startProcess(spec protocol.Process) (*proc, *startError) {
	if len(spec.Args) == 0 {
		return nil, &startError{exitUnknown, "no command specified"}
	}
	user, err := resolveUser(spec.User)
	if err != nil {
		return nil, newStartError(err.Error())
	}

	dir := spec.WorkingDir
	if dir == "" {
		dir = "/"
	}
	if err := ensureWorkingDir(dir, user); err != nil {
		return nil, newStartError(err.Error())
	}

	path, serr := lookPath(spec.Args[0], envValue(spec.Env, "PATH", defaultPath), dir)
	if serr != nil {
		return nil, serr
	}

	env := spec.Env
	if env == nil {
		env = []string{} // nil would make exec pass the agent's own environment
	}
	if _, ok := envLookup(env, "HOME"); !ok {
		// runc sets HOME from passwd when the image and run leave it unset.
		env = append(append([]string{}, env...), "HOME="+user.Home)
	}

	cmd := &exec.Cmd{Path: path, Args: spec.Args, Env: env, Dir: dir, SysProcAttr: &syscall.SysProcAttr{}}
	if user.Switch {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: user.UID, Gid: user.GID, Groups: user.Groups}
	}

	p := &proc{}
	var childEnds []*os.File // closed in the agent once the child has them
	defer func() {
		for _, f := range childEnds {
			_ = f.Close()
		}
	}()
	fail := func(err error) (*proc, *startError) {
		p.closeParentEnds() // the pty master is p.stdout
		return nil, newStartError(err.Error())
	}

	if spec.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			return fail(fmt.Errorf("open pty: %w", err))
		}
		childEnds = append(childEnds, slave)
		p.tty, p.stdout = master, master
		if spec.OpenStdin {
			p.stdin = master
		}
		if rows, cols := spec.ConsoleSize[0], spec.ConsoleSize[1]; rows > 0 && cols > 0 {
			_ = pty.Setsize(master, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		// A new session with the pty as its controlling terminal; the session
		// leader's PID is also the process group ID.
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("stdout pipe: %w", err))
		}
		p.stdout = outR
		childEnds = append(childEnds, outW)
		errR, errW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("stderr pipe: %w", err))
		}
		p.stderr = errR
		childEnds = append(childEnds, errW)
		var in *os.File
		if spec.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return fail(fmt.Errorf("stdin pipe: %w", err))
			}
			p.stdin, in = inW, inR
		} else if in, err = os.Open(os.DevNull); err != nil {
			return fail(fmt.Errorf("open %s: %w", os.DevNull, err))
		}
		childEnds = append(childEnds, in)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = in, outW, errW
		cmd.SysProcAttr.Setpgid = true
	}

	status, err := getReaper().start(cmd)
	if err != nil {
		return fail(execError(spec.Args[0], err))
	}
	p.pid = cmd.Process.Pid
	p.status = status
	// The reaper collects the status; the handle (a pidfd) is not needed.
	_ = cmd.Process.Release()
	return p, nil
}

// execError words an execve failure as runc does.
func execError(arg0 string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("exec: %q: %s", arg0, errno.Error())
	}
	return fmt.Errorf("exec: %q: %w", arg0, err)
}

// lookPath finds the executable for arg0 like runc: a name with a slash is
// taken as is (relative to dir), anything else is searched in pathEnv.
func lookPath(arg0, pathEnv, dir string) (string, *startError) {
	if strings.Contains(arg0, "/") {
		p := arg0
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(p); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Op == "stat" {
				return "", newStartError(fmt.Sprintf("exec: %q: stat %s: %s", arg0, arg0, pe.Err))
			}
			return "", newStartError(fmt.Sprintf("exec: %q: %s", arg0, err))
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "." // POSIX: an empty PATH element is the current directory
		}
		p := filepath.Join(d, arg0)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", newStartError(fmt.Sprintf("exec: %q: executable file not found in $PATH", arg0))
}

// checkExecutable mirrors Go's exec.findExecutable: a directory is EISDIR, a
// file without any execute bit is EACCES.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	if fi.Mode()&0o111 == 0 {
		return syscall.EACCES
	}
	return nil
}

// ensureWorkingDir creates the working directory when it is missing, like
// Docker does for WORKDIR, owned by the user the process runs as.
func ensureWorkingDir(dir string, user execUser) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("working directory %s: %w", dir, syscall.ENOTDIR)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("working directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		// e.g. "mkdir /app: read-only file system" on Lambda's root filesystem.
		return fmt.Errorf("create working directory: %w", err)
	}
	if user.Switch {
		if err := os.Chown(dir, int(user.UID), int(user.GID)); err != nil {
			return fmt.Errorf("create working directory: %w", err)
		}
	}
	return nil
}

func envLookup(env []string, key string) (string, bool) {
	// The last definition wins, as in execve's consumers.
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func envValue(env []string, key, def string) string {
	if v, ok := envLookup(env, key); ok {
		return v
	}
	return def
}

// exitCode turns a wait status into Docker's exit code: 128+N for signal N.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// parseSignal accepts "TERM", "SIGTERM", "sigterm" or "15".
func parseSignal(s string) (syscall.Signal, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}
