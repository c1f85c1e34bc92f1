package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// run is one container run: one invocation, one process.
type run struct {
	a   *Agent
	ev  Event
	inv *protocol.Invocation

	// Set when the backend was reached; nil means output goes to the log only.
	conn     *backendConn
	ctrl     *control
	ctrlDone chan struct{} // closed when the control stream ends
	exitAck  chan struct{}
	ackOnce  sync.Once
	stdinCh  chan net.Conn
	procDone chan struct{} // closed when the process has exited

	mu      sync.Mutex
	proc    *proc
	pending []protocol.Message // signal/resize that came before the process started

	outStreams []*yamux.Stream // for unblocking writes when draining times out
}

func newRun(a *Agent, ev Event, inv *protocol.Invocation) *run {
	return &run{
		a: a, ev: ev, inv: inv,
		ctrlDone: make(chan struct{}),
		exitAck:  make(chan struct{}),
		stdinCh:  make(chan net.Conn, 1),
		procDone: make(chan struct{}),
	}
}

func (r *run) diag(format string, args ...any) {
	r.a.diag("container %.12s: "+format, append([]any{r.inv.ContainerID}, args...)...)
}

// hardStop is the latest moment to finish the run, leaving time to post the
// response before Lambda ends the environment; zero without a deadline.
func (r *run) hardStop() time.Time {
	if r.ev.Deadline.IsZero() {
		return time.Time{}
	}
	return r.ev.Deadline.Add(-300 * time.Millisecond)
}

// bounded returns d, shortened so as not to pass hardStop.
func (r *run) bounded(d time.Duration) time.Duration {
	if hs := r.hardStop(); !hs.IsZero() {
		d = min(d, time.Until(hs))
	}
	return max(d, 0)
}

// execute runs the process and reports its end: Exit on the control stream,
// then the exit record in the log. It returns the invocation's response.
func (r *run) execute(ctx context.Context) protocol.Response {
	r.connect(ctx)
	res := r.runProcess(ctx)

	if r.ctrl != nil {
		r.reportExit(res)
	}
	if err := r.a.log.WriteExit(protocol.ExitInfo{
		ContainerID: r.inv.ContainerID,
		RequestID:   r.ev.RequestID,
		Code:        res.code,
		Error:       res.err,
		Reason:      res.reason,
		StartedAt:   res.started,
		FinishedAt:  res.finished,
	}); err != nil {
		r.diag("%v", err)
	}
	return protocol.Response{ContainerID: r.inv.ContainerID, ExitCode: res.code, Error: res.err}
}

// close drops the backend connection. It runs before the response is posted,
// because Lambda may freeze the environment as soon as it has the response,
// and a connection left open would hang until the next thaw.
func (r *run) close() {
	if r.conn != nil {
		r.conn.Close()
	}
}

func (r *run) connect(ctx context.Context) {
	conn, err := dialBackend(ctx, r.inv, r.a.cfg.Dial, r.diag)
	if err != nil {
		r.diag("no backend connection, output goes to the log only: %v", err)
		return
	}
	ctrl, err := openControl(conn.session)
	if err != nil {
		r.diag("%v", err)
		conn.Close()
		return
	}
	hello := protocol.Message{
		Type:            protocol.MsgHello,
		ProtocolVersion: protocol.Version,
		AgentVersion:    r.a.cfg.AgentVersion,
		ContainerID:     r.inv.ContainerID,
		RequestID:       r.ev.RequestID,
		LogGroup:        r.a.cfg.LogGroup,
		LogStream:       r.a.cfg.LogStream,
	}
	if !r.ev.Deadline.IsZero() {
		hello.DeadlineMs = r.ev.Deadline.UnixMilli()
	}
	if err := ctrl.send(hello); err != nil {
		r.diag("%v", err)
		conn.Close()
		return
	}
	r.conn, r.ctrl = conn, ctrl
	go r.acceptLoop()
	go func() {
		defer close(r.ctrlDone)
		if err := ctrl.readLoop(r.handleControl, r.diag); err != nil && !errors.Is(err, io.EOF) {
			r.diag("%v", err)
		}
	}()
}

// acceptLoop takes the streams the backend opens: today only stdin.
func (r *run) acceptLoop() {
	for {
		st, err := r.conn.session.AcceptStream()
		if err != nil {
			return // session closed
		}
		go func() {
			h, err := readStreamHeader(st)
			if err != nil {
				r.diag("%v", err)
				_ = st.Close()
				return
			}
			if h.Kind != protocol.StreamStdin || h.ID != "" {
				r.diag("refusing %s stream for process %q", h.Kind, h.ID)
				_ = st.Close()
				return
			}
			if !r.inv.Process.OpenStdin {
				r.diag("refusing stdin stream: the process has no stdin open")
				_ = st.Close()
				return
			}
			select {
			case r.stdinCh <- st:
			default:
				r.diag("refusing a second stdin stream")
				_ = st.Close()
			}
		}()
	}
}

func (r *run) handleControl(m protocol.Message) {
	switch m.Type {
	case protocol.MsgExitAck:
		r.ackOnce.Do(func() { close(r.exitAck) })
		return
	case protocol.MsgSignal, protocol.MsgResize:
	default:
		r.diag("ignoring control message %q", m.Type)
		return
	}
	if m.ID != "" {
		r.diag("ignoring %s for unknown process %q", m.Type, m.ID)
		return
	}
	r.mu.Lock()
	p := r.proc
	if p == nil {
		r.pending = append(r.pending, m)
	}
	r.mu.Unlock()
	if p != nil {
		r.apply(p, m)
	}
}

func (r *run) apply(p *proc, m protocol.Message) {
	switch m.Type {
	case protocol.MsgSignal:
		sig, err := parseSignal(m.Signal)
		if err != nil {
			r.diag("%v", err)
			return
		}
		if err := p.signal(sig); err != nil {
			r.diag("%v", err)
		}
	case protocol.MsgResize:
		if err := p.resize(m.Height, m.Width); err != nil {
			r.diag("%v", err)
		}
	}
}

type result struct {
	code              int
	err, reason       string
	pid               int
	started, finished time.Time
}

func (r *run) openOutput(kind string) *yamux.Stream {
	if r.conn == nil {
		return nil
	}
	st, err := openStream(r.conn.session, kind, "")
	if err != nil {
		r.diag("%v", err)
		return nil
	}
	r.outStreams = append(r.outStreams, st)
	return st
}

func (r *run) runProcess(ctx context.Context) result {
	spec := r.inv.Process
	// The output streams exist before the process, so that the backend can
	// attach them to clients before the first byte.
	outSt := r.openOutput(protocol.StreamStdout)
	var errSt *yamux.Stream
	if !spec.Tty {
		errSt = r.openOutput(protocol.StreamStderr)
	}
	outLog := newLineSplitter(r.a.log, protocol.StreamStdout, r.a.cfg.IdleFlush)
	errLog := newLineSplitter(r.a.log, protocol.StreamStderr, r.a.cfg.IdleFlush)
	defer close(r.procDone)

	p, serr := startProcess(spec)
	started := time.Now().UTC()
	if serr != nil {
		// The user sees why, where the process's errors would have gone.
		r.diag("start: %s", serr.Msg)
		msg := []byte(serr.Msg + "\n")
		log, st := errLog, errSt
		if spec.Tty {
			log, st = outLog, outSt
		}
		_, _ = log.Write(msg)
		if st != nil {
			if _, err := st.Write(msg); err != nil {
				r.diag("write start error: %v", err)
			}
		}
		for _, c := range []io.Closer{outLog, errLog} {
			_ = c.Close()
		}
		for _, s := range r.outStreams {
			_ = s.Close()
		}
		return result{code: serr.Code, err: serr.Msg, started: started, finished: started}
	}

	r.mu.Lock()
	r.proc = p
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, m := range pending {
		r.apply(p, m)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.pump(p.stdout, outLog, outSt) }()
	if p.stderr != nil {
		wg.Add(1)
		go func() { defer wg.Done(); r.pump(p.stderr, errLog, errSt) }()
	} else {
		_ = errLog.Close()
	}
	if p.stdin != nil {
		go r.copyStdin(p, spec.Tty)
	}

	var deadline <-chan time.Time
	if !r.ev.Deadline.IsZero() {
		t := time.NewTimer(time.Until(r.ev.Deadline) - r.a.cfg.DeadlineMargin)
		defer t.Stop()
		deadline = t.C
	}
	var ws syscall.WaitStatus
	timedOut := false
wait:
	for {
		select {
		case ws = <-p.status:
			break wait
		case <-deadline:
			r.diag("invocation deadline near: killing the process")
			timedOut = true
			deadline = nil
			_ = p.signal(syscall.SIGKILL)
		case <-ctx.Done():
			_ = p.signal(syscall.SIGKILL)
			ctx = context.Background() // keep waiting for the status
		}
	}
	finished := time.Now().UTC()

	// Docker ends every process of the container with its main process; the
	// survivors would also hold the output pipes open.
	_ = p.signal(syscall.SIGKILL)
	killDescendants()

	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(r.bounded(r.a.cfg.DrainTimeout)):
		r.diag("output not drained in time; cutting it off")
		for _, s := range r.outStreams {
			_ = s.SetWriteDeadline(time.Now())
		}
		p.closeParentEnds()
		<-drained
	}
	p.closeParentEnds()

	res := result{code: exitCode(ws), pid: p.pid, started: started, finished: finished}
	if timedOut {
		res.code = 128 + int(syscall.SIGKILL)
		res.reason = "timeout"
		res.err = "the process was killed because the Lambda invocation deadline was reached"
	}
	return res
}

// pump copies one output of the process to the log and to the backend. The
// backend write blocks, so a slow reader slows the process instead of losing
// bytes; a failed backend write leaves the log as the only destination.
func (r *run) pump(src *os.File, log *lineSplitter, st *yamux.Stream) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			_, _ = log.Write(buf[:n])
			if st != nil {
				if _, werr := st.Write(buf[:n]); werr != nil {
					r.diag("%s stream: %v; output continues in the log only", log.stream, werr)
					_ = st.Close()
					st = nil
				}
			}
		}
		if err != nil {
			// EIO is how a pty master reports that the last slave is closed.
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
				r.diag("read %s: %v", log.stream, err)
			}
			break
		}
	}
	_ = log.Close()
	if st != nil {
		_ = st.Close()
	}
}

// copyStdin feeds the backend's stdin stream to the process. End of the
// stream closes the process's stdin (not possible with a tty, whose input and
// output are one file).
func (r *run) copyStdin(p *proc, tty bool) {
	var st net.Conn
	select {
	case st = <-r.stdinCh:
	case <-r.procDone:
		return
	}
	if _, err := io.Copy(p.stdin, st); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
		r.diag("stdin: %v", err)
	}
	if !tty {
		_ = p.stdin.Close()
	}
}

func (r *run) reportExit(res result) {
	code := res.code
	m := protocol.Message{Type: protocol.MsgExit, ExitCode: &code, Error: res.err, Reason: res.reason, Pid: res.pid}
	if err := r.ctrl.send(m); err != nil {
		r.diag("%v", err)
		return
	}
	select {
	case <-r.exitAck:
	case <-r.ctrlDone:
		r.diag("control stream ended before exitAck")
	case <-time.After(r.bounded(r.a.cfg.ExitAckTimeout)):
		r.diag("no exitAck from the backend in time")
	}
}
