package backend

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/backend"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/gin-gonic/gin"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// execSession is one `docker exec`: a process the agent runs next to the
// main process, with its own streams, TTY, env, working dir and user.
type execSession struct {
	ID      string
	ctr     *Container
	run     *run
	cfg     container.ExecOptions
	created time.Time

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	stdout   io.Writer // the attached client, or io.Discard
	stderr   io.Writer
	finished chan struct{}
}

// addExec makes e known, by ID and to its run, so that the agent's messages
// about it find it.
func (a *agents) addExec(e *execSession) {
	a.mu.Lock()
	a.execs[e.ID] = e
	a.mu.Unlock()
	e.run.mu.Lock()
	e.run.execs[e.ID] = e
	e.run.mu.Unlock()
}

// dropExec forgets e.
func (a *agents) dropExec(e *execSession) {
	a.mu.Lock()
	delete(a.execs, e.ID)
	a.mu.Unlock()
	e.run.mu.Lock()
	delete(e.run.execs, e.ID)
	e.run.mu.Unlock()
}

// exec looks an exec session up by ID.
func (a *agents) exec(id string) *execSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.execs[id]
}

// forgetExecs drops the sessions of removed containers, and finished ones
// older than an hour (Docker keeps them until the container is removed).
func (a *agents) forgetExecs() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, e := range a.execs {
		e.mu.Lock()
		old := !e.running && time.Since(e.created) > time.Hour
		e.mu.Unlock()
		if old || a.b.store.Snap(e.ctr).Removed {
			delete(a.execs, id)
		}
	}
}

func (e *execSession) setPid(pid int) {
	e.mu.Lock()
	e.pid = pid
	e.mu.Unlock()
}

// finish records the exit code, before the client's stream is closed: the
// CLI inspects the exec as soon as its stream ends.
func (e *execSession) finish(code int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return
	}
	e.running = false
	e.exitCode = &code
	close(e.finished)
}

// sink is where the agent's output of the exec goes.
func (e *execSession) sink(kind string) io.Writer { return execWriter{e, kind} }

type execWriter struct {
	e    *execSession
	kind string
}

func (w execWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	out := w.e.stdout
	if w.kind == protocol.StreamStderr {
		out = w.e.stderr
	}
	if out == nil {
		return len(p), nil
	}
	if _, err := out.Write(p); err != nil {
		// The client left; the process goes on, as with Docker.
		w.e.stdout, w.e.stderr = nil, nil
	}
	return len(p), nil
}

// outputSink is where an output stream from the agent goes.
func (b *Backend) outputSink(r *run, h protocol.StreamHeader) io.Writer {
	if h.ID == "" {
		return r.container.hub.writer(r, h.Kind)
	}
	if e := b.agents.exec(h.ID); e != nil {
		return e.sink(h.Kind)
	}
	return io.Discard
}

// handleExecCreate serves POST /containers/{id}/exec.
func (b *Backend) handleExecCreate(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	var opts container.ExecOptions
	if err := json.NewDecoder(c.Request.Body).Decode(&opts); err != nil {
		writeError(c, badRequest("invalid exec configuration: %s", err))
		return
	}
	if len(opts.Cmd) == 0 {
		writeError(c, badRequest("No exec command specified"))
		return
	}
	r, err := b.runningRun(ctr)
	if err != nil {
		writeError(c, err)
		return
	}
	if b.store.Snap(ctr).Paused {
		writeError(c, conflict("Container %s is paused, unpause the container before exec", ctr.ID))
		return
	}
	b.agents.forgetExecs()
	e := &execSession{ID: newID(), ctr: ctr, run: r, cfg: opts, created: time.Now(), finished: make(chan struct{})}
	b.agents.addExec(e)
	c.JSON(http.StatusCreated, container.ExecCreateResponse{ID: e.ID})
}

// runningRun is the container's current run, or Docker's 409 when it is not
// running.
func (b *Backend) runningRun(ctr *Container) (*run, error) {
	snap := b.store.Snap(ctr)
	if snap.Status != stateRunning || snap.Run == nil {
		return nil, conflict("container %s is not running", ctr.ID)
	}
	return snap.Run, nil
}

// execProcess is what the agent runs: the container's env, working dir and
// user unless the exec says otherwise.
func (e *execSession) process(consoleSize *[2]uint) protocol.Process {
	p := protocol.Process{
		Args:       e.cfg.Cmd,
		Env:        append(processEnv(e.ctr), e.cfg.Env...),
		WorkingDir: e.cfg.WorkingDir,
		User:       e.cfg.User,
		Tty:        e.cfg.Tty,
		OpenStdin:  e.cfg.AttachStdin,
	}
	if p.WorkingDir == "" {
		p.WorkingDir = e.ctr.workingDir()
	}
	// Without -u, an exec runs as the main process does: as the sandbox's
	// user (see userWarning).
	if consoleSize == nil {
		consoleSize = e.cfg.ConsoleSize
	}
	if consoleSize != nil {
		p.ConsoleSize = *consoleSize
	}
	return p
}

// handleExecStart serves POST /exec/{id}/start: hijacked, or detached.
func (b *Backend) handleExecStart(c *gin.Context) {
	e := b.agents.exec(c.Param("id"))
	if e == nil {
		writeError(c, notFound("No such exec instance: %s", c.Param("id")))
		return
	}
	var opts container.ExecStartOptions
	if c.Request.ContentLength != 0 {
		if err := json.NewDecoder(c.Request.Body).Decode(&opts); err != nil && err != io.EOF {
			writeError(c, badRequest("invalid exec start options: %s", err))
			return
		}
	}
	select {
	case <-e.run.done:
		writeError(c, conflict("container %s is not running", e.ctr.ID))
		return
	default:
	}
	e.mu.Lock()
	already := e.started
	e.started, e.running = true, true
	e.mu.Unlock()
	if already {
		writeError(c, conflict("Exec command %s is already running", e.ID))
		return
	}
	msg := protocol.Message{Type: protocol.MsgExec, ID: e.ID}
	proc := e.process(opts.ConsoleSize)
	msg.Process = &proc

	if opts.Detach {
		e.run.send(msg)
		c.Status(http.StatusOK)
		return
	}
	conn, rw, err := hijack(c, e.cfg.Tty)
	if err != nil {
		e.finish(126)
		return
	}
	defer conn.Close()
	out := connWriter{conn}
	e.mu.Lock()
	if e.cfg.AttachStdout {
		e.stdout = out
	}
	if e.cfg.AttachStderr {
		e.stderr = out
	}
	if !e.cfg.Tty {
		if e.stdout != nil {
			e.stdout = stdcopy.NewStdWriter(out, stdcopy.Stdout)
		}
		if e.stderr != nil {
			e.stderr = stdcopy.NewStdWriter(out, stdcopy.Stderr)
		}
	}
	e.mu.Unlock()
	if e.cfg.AttachStdin {
		f := e.run.stdinFeed(e.ID, rw)
		e.run.mu.Lock()
		sess := e.run.session
		e.run.mu.Unlock()
		if sess != nil {
			f.attach(sess)
		}
	}
	e.run.send(msg)
	select {
	case <-e.finished:
	case <-e.run.done:
	}
	closeWrite(conn)
}

// handleExecInspect serves GET /exec/{id}/json.
func (b *Backend) handleExecInspect(c *gin.Context) {
	e := b.agents.exec(c.Param("id"))
	if e == nil {
		writeError(c, notFound("No such exec instance: %s", c.Param("id")))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var args []string
	if len(e.cfg.Cmd) > 1 {
		args = e.cfg.Cmd[1:]
	}
	c.JSON(http.StatusOK, backend.ExecInspect{
		ID:      e.ID,
		Running: e.running,
		// null until the process has ended, as Docker shows it.
		ExitCode: e.exitCode,
		ProcessConfig: &backend.ExecProcessConfig{
			Tty: e.cfg.Tty, Entrypoint: e.cfg.Cmd[0], Arguments: args, User: e.cfg.User, Privileged: &e.cfg.Privileged,
		},
		OpenStdin:   e.cfg.AttachStdin,
		OpenStdout:  e.cfg.AttachStdout,
		OpenStderr:  e.cfg.AttachStderr,
		CanRemove:   !e.running && e.started,
		ContainerID: e.ctr.ID,
		DetachKeys:  []byte{},
		Pid:         e.pid,
	})
}

// handleExecResize serves POST /exec/{id}/resize.
func (b *Backend) handleExecResize(c *gin.Context) {
	e := b.agents.exec(c.Param("id"))
	if e == nil {
		writeError(c, notFound("No such exec instance: %s", c.Param("id")))
		return
	}
	h, w, err := resizeQuery(c)
	if err != nil {
		writeError(c, err)
		return
	}
	e.run.send(protocol.Message{Type: protocol.MsgResize, ID: e.ID, Width: w, Height: h})
	c.Status(http.StatusOK)
}

// resizeQuery reads ?h=&w= as Docker does.
func resizeQuery(c *gin.Context) (h, w uint, err error) {
	hh, err1 := strconv.ParseUint(c.Query("h"), 10, 16)
	ww, err2 := strconv.ParseUint(c.Query("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, badRequest("invalid resize: h=%q w=%q", c.Query("h"), c.Query("w"))
	}
	return uint(hh), uint(ww), nil
}
