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

// run is one container run: one invocation, its main process and its exec
// sessions, and the link to the backend that carries them.
type run struct {
	a    *Agent
	ev   Event
	inv  *protocol.Invocation
	link *link

	mu        sync.Mutex
	procs     map[string]*procState // "" is the main process, the rest exec IDs
	startGate chan string           // MsgStart's error, with HoldStart
	ended     bool                  // the main process has exited: no new execs
}

// procState is one process of the run, from the moment the backend names it.
type procState struct {
	id      string
	spec    protocol.Process
	stdinCh chan stdinStream // stdin streams from the backend; a new one after a drop

	// stdinDelivered counts the stdin bytes written to the process (or
	// discarded once it closed its stdin): a stream reopened after a drop
	// skips them. stdinEnded is set when the stream's end closed stdin.
	stdinMu        sync.Mutex
	stdinDelivered int64
	stdinEnded     bool

	mu      sync.Mutex
	p       *proc
	pending []protocol.Message // signal and resize before the process started
	done    chan struct{}      // closed when the process has exited
}

func newProcState(id string, spec protocol.Process) *procState {
	return &procState{id: id, spec: spec, stdinCh: make(chan stdinStream, 1), done: make(chan struct{})}
}

// stdinStream is one stdin stream from the backend; offset is the stream
// offset of its first byte.
type stdinStream struct {
	conn   net.Conn
	offset int64
}

// stdinOffsets is the stdin delivered so far to each process that has one.
func (r *run) stdinOffsets() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for id, ps := range r.procs {
		if ps.spec.OpenStdin {
			ps.stdinMu.Lock()
			out[protocol.StreamKey(id, protocol.StreamStdin)] = ps.stdinDelivered
			ps.stdinMu.Unlock()
		}
	}
	return out
}

func newRun(a *Agent, ev Event, inv *protocol.Invocation) *run {
	return &run{
		a: a, ev: ev, inv: inv,
		procs:     map[string]*procState{"": newProcState("", inv.Process)},
		startGate: make(chan string, 1),
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

// execute runs the main process and reports its end: Exit over the link,
// then the exit record in the log. It returns the invocation's response.
func (r *run) execute(ctx context.Context) protocol.Response {
	hello := protocol.Message{
		Type:            protocol.MsgHello,
		ProtocolVersion: protocol.Version,
		AgentVersion:    r.a.cfg.AgentVersion,
		ContainerID:     r.inv.ContainerID,
		RunID:           r.inv.RunID,
		RequestID:       r.ev.RequestID,
		LogGroup:        r.a.cfg.LogGroup,
		LogStream:       r.a.cfg.LogStream,
	}
	if !r.ev.Deadline.IsZero() {
		hello.DeadlineMs = r.ev.Deadline.UnixMilli()
	}
	// Mounts first: files copied in before the start (HoldStart) may go to
	// a volume.
	mountErr := makeMounts(r.inv.Mounts)
	var purging *purge
	if mountErr == nil && len(r.inv.Purge) > 0 {
		purging = startPurge(r.inv.Purge, r.inv.Mounts, r.diag)
	}
	r.link = newLink(r.inv, r.a.cfg.Dial, hello, r.diag)
	r.link.onMsg = r.handleControl
	r.link.onStream = r.handleStream
	r.link.stdinOffsets = r.stdinOffsets
	r.link.start(ctx)

	main := r.procs[""]
	var res result
	if mountErr != nil {
		res = r.failStart(main, &startError{Code: exitUnknown, Msg: mountErr.Error()})
	} else if msg, ok := r.waitStart(); !ok {
		res = r.failStart(main, &startError{Code: exitUnknown, Msg: msg})
	} else {
		res = r.runProc(ctx, main)
	}

	// Docker ends every process of the container with its main process.
	r.mu.Lock()
	r.ended = true
	r.mu.Unlock()
	killDescendants()
	r.waitExecs()
	cleanDirs(r.a.cfg.CleanDirs, r.diag)

	acked := r.link.exit(res.message(""))
	wait := r.a.cfg.ExitAckTimeout + r.a.cfg.Dial.Total
	select {
	case <-acked:
	case <-time.After(r.bounded(wait)):
		r.diag("no exitAck from the backend in time")
	}
	if purging != nil {
		// After the exit, so that no one waits for it; a little more time,
		// never past the deadline. What is not gone, a later run deletes.
		if gone := purging.wait(time.After(r.bounded(time.Minute))); len(gone) > 0 {
			r.link.sendMsg(protocol.Message{Type: protocol.MsgPurged, Purged: gone})
		}
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
	if r.link != nil {
		r.link.close()
	}
}

// waitStart waits, with HoldStart, for the backend to have copied its files
// in. ok is false when the backend reported that the copy failed; with no
// backend at all the process starts anyway (its output then reaches the log).
func (r *run) waitStart() (errMsg string, ok bool) {
	if !r.inv.HoldStart {
		return "", true
	}
	var limit <-chan time.Time
	if hs := r.hardStop(); !hs.IsZero() {
		limit = time.After(time.Until(hs))
	}
	select {
	case msg := <-r.startGate:
		return msg, msg == ""
	case <-r.link.deadCh:
		r.diag("starting without the files the backend had staged: it cannot be reached")
		return "", true
	case <-limit:
		return "the invocation deadline passed before the backend released the start", false
	}
}

// waitExecs waits (briefly: they were just killed) for every exec to report.
func (r *run) waitExecs() {
	r.mu.Lock()
	var dones []chan struct{}
	for id, ps := range r.procs {
		if id != "" {
			dones = append(dones, ps.done)
		}
	}
	r.mu.Unlock()
	limit := time.After(r.bounded(r.a.cfg.DrainTimeout))
	for _, d := range dones {
		select {
		case <-d:
		case <-limit:
			return
		}
	}
}

func (r *run) handleControl(m protocol.Message) {
	switch m.Type {
	case protocol.MsgStart:
		select {
		case r.startGate <- m.Error:
		default:
		}
	case protocol.MsgExec:
		r.startExec(m)
	case protocol.MsgSignal, protocol.MsgResize:
		r.mu.Lock()
		ps := r.procs[m.ID]
		r.mu.Unlock()
		if ps == nil {
			r.diag("ignoring %s for unknown process %q", m.Type, m.ID)
			return
		}
		ps.mu.Lock()
		p := ps.p
		if p == nil {
			ps.pending = append(ps.pending, m)
		}
		ps.mu.Unlock()
		if p != nil {
			r.apply(p, m)
		}
	case protocol.MsgPause, protocol.MsgUnpause:
		sig := syscall.SIGSTOP
		if m.Type == protocol.MsgUnpause {
			sig = syscall.SIGCONT
		}
		signalAll(sig)
		r.link.sendMsg(protocol.Message{Type: protocol.MsgReply, Req: m.Req})
	case protocol.MsgTop:
		go func() {
			top, err := listProcesses(m.PsArgs)
			reply := protocol.Message{Type: protocol.MsgReply, Req: m.Req, Top: top}
			if err != nil {
				reply.Error = err.Error()
			}
			r.link.sendMsg(reply)
		}()
	case protocol.MsgStats:
		go r.link.sendMsg(protocol.Message{Type: protocol.MsgReply, Req: m.Req, Stats: readStats()})
	default:
		r.diag("ignoring control message %q", m.Type)
	}
}

// handleStream takes a stream the backend opened: a process's stdin or a
// file operation.
func (r *run) handleStream(st net.Conn, h protocol.StreamHeader) {
	switch h.Kind {
	case protocol.StreamStdin:
		ps := r.awaitProc(h.ID)
		if ps == nil || !ps.spec.OpenStdin {
			r.diag("refusing stdin stream for process %q: it has no stdin open", h.ID)
			_ = st.Close()
			return
		}
		ps.stdinMu.Lock()
		ended := ps.stdinEnded
		ps.stdinMu.Unlock()
		if ended { // resent after a drop that hid our ack: stdin is closed already
			_ = st.Close()
			return
		}
		// A newer stream replaces one still waiting: that one is from a
		// connection that has dropped since.
		for {
			select {
			case ps.stdinCh <- stdinStream{conn: st, offset: h.Offset}:
				return
			default:
			}
			select {
			case old := <-ps.stdinCh:
				_ = old.conn.Close()
			default:
			}
		}
	case protocol.StreamArchive:
		serveArchive(st, h, r.inv.Mounts, r.diag)
	default:
		r.diag("refusing %s stream", h.Kind)
		_ = st.Close()
	}
}

// awaitProc finds process id. An exec's stdin stream may arrive before the
// exec message (they travel on different streams), so it waits a little.
func (r *run) awaitProc(id string) *procState {
	for range 1000 {
		r.mu.Lock()
		ps, ended := r.procs[id], r.ended
		r.mu.Unlock()
		if ps != nil || ended {
			return ps
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (r *run) apply(p *proc, m protocol.Message) {
	switch m.Type {
	case protocol.MsgSignal:
		sig, err := parseSignal(m.Signal)
		if err != nil {
			r.diag("%v", err)
			return
		}
		if err := p.signalProcess(sig); err != nil {
			r.diag("%v", err)
		}
	case protocol.MsgResize:
		if err := p.resize(m.Height, m.Width); err != nil {
			r.diag("%v", err)
		}
	}
}

// startExec runs an exec session next to the main process.
func (r *run) startExec(m protocol.Message) {
	if m.ID == "" || m.Process == nil || len(m.Process.Args) == 0 {
		r.diag("ignoring exec without id or command")
		return
	}
	ps := newProcState(m.ID, *m.Process)
	r.mu.Lock()
	if r.ended || r.procs[m.ID] != nil {
		r.mu.Unlock()
		code := exitUnknown
		r.link.exit(protocol.Message{Type: protocol.MsgExit, ID: m.ID, ExitCode: &code, Error: "the container is not running"})
		return
	}
	r.procs[m.ID] = ps
	r.mu.Unlock()
	go func() {
		res := r.runProc(context.Background(), ps)
		r.link.exit(res.message(ps.id))
	}()
}

type result struct {
	code              int
	err, reason       string
	pid               int
	started, finished time.Time
	sizes             map[string]int64
}

func (res result) message(id string) protocol.Message {
	code := res.code
	return protocol.Message{Type: protocol.MsgExit, ID: id, ExitCode: &code, Error: res.err,
		Reason: res.reason, Pid: res.pid, Sizes: res.sizes}
}

// output is one output of a process: the stream held for the backend, and
// for the main process the log.
type output struct {
	st  *outStream
	log *lineSplitter // nil for exec sessions: docker logs shows the main process only
}

func (o output) Write(p []byte) {
	if o.log != nil {
		_, _ = o.log.Write(p)
	}
	_, _ = o.st.Write(p)
}

func (o output) close() {
	if o.log != nil {
		_ = o.log.Close()
	}
	o.st.closeWrite()
}

func (r *run) outputs(ps *procState) (out, errOut output) {
	out.st = newOutStream(ps.id, protocol.StreamStdout)
	r.link.register(out.st)
	if !ps.spec.Tty {
		errOut.st = newOutStream(ps.id, protocol.StreamStderr)
		r.link.register(errOut.st)
	}
	if ps.id == "" {
		out.log = newLineSplitter(r.a.log, protocol.StreamStdout, r.a.cfg.IdleFlush)
		if !ps.spec.Tty {
			errOut.log = newLineSplitter(r.a.log, protocol.StreamStderr, r.a.cfg.IdleFlush)
		}
	}
	return out, errOut
}

func sizes(outs ...output) map[string]int64 {
	m := map[string]int64{}
	for _, o := range outs {
		if o.st != nil {
			m[o.st.kind] = o.st.size()
		}
	}
	return m
}

// failStart reports a process that could not start where its errors would
// have gone.
func (r *run) failStart(ps *procState, serr *startError) result {
	defer close(ps.done)
	out, errOut := r.outputs(ps)
	r.diag("start %q: %s", ps.id, serr.Msg)
	target := errOut
	if ps.spec.Tty {
		target = out
	}
	target.Write([]byte(serr.Msg + "\n"))
	out.close()
	if errOut.st != nil {
		errOut.close()
	}
	now := time.Now().UTC()
	return result{code: serr.Code, err: serr.Msg, started: now, finished: now, sizes: sizes(out, errOut)}
}

// runProc runs one process to its end: the main process (with the
// invocation deadline, and killing the rest of the container when it ends)
// or an exec session.
func (r *run) runProc(ctx context.Context, ps *procState) result {
	isMain := ps.id == ""
	p, serr := startProcess(ps.spec)
	if serr != nil {
		return r.failStart(ps, serr)
	}
	defer close(ps.done)
	started := time.Now().UTC()
	out, errOut := r.outputs(ps)
	r.link.started(protocol.Message{Type: protocol.MsgStarted, ID: ps.id, Pid: p.pid})

	ps.mu.Lock()
	ps.p = p
	pending := ps.pending
	ps.pending = nil
	ps.mu.Unlock()
	for _, m := range pending {
		r.apply(p, m)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.pump(p.stdout, out) }()
	if p.stderr != nil {
		wg.Add(1)
		go func() { defer wg.Done(); r.pump(p.stderr, errOut) }()
	} else if errOut.st != nil {
		errOut.close()
	}
	if p.stdin != nil {
		go r.copyStdin(ps, p)
	}

	var deadline <-chan time.Time
	if isMain && !r.ev.Deadline.IsZero() {
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
	if isMain {
		// The survivors would also hold the output pipes open.
		_ = p.signal(syscall.SIGKILL)
		killDescendants()
	}
	r.drain(&wg, p, out, errOut)

	res := result{code: exitCode(ws), pid: p.pid, started: started, finished: finished, sizes: sizes(out, errOut)}
	if timedOut {
		res.code = 128 + int(syscall.SIGKILL)
		res.reason = "timeout"
		res.err = "the process was killed because the Lambda invocation deadline was reached"
		stream, target := protocol.StreamStderr, errOut
		if ps.spec.Tty {
			stream, target = protocol.StreamStdout, out
		}
		var end int64
		if target.log != nil {
			end = target.log.end()
		}
		r.a.log.line(stream, []byte(protocol.DeadlineMessage), end)
	}
	return res
}

// drain waits for the output of an exited process: first for the pipes to
// reach EOF (processes it left behind may hold them), then for the backend
// to take what is held, which only the invocation deadline cuts short.
func (r *run) drain(wg *sync.WaitGroup, p *proc, outs ...output) {
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(r.bounded(r.a.cfg.DrainTimeout)):
		p.closeParentEnds()
		var limit <-chan time.Time
		if hs := r.hardStop(); !hs.IsZero() {
			limit = time.After(time.Until(hs))
		}
		select {
		case <-drained:
		case <-limit:
			r.diag("output not drained before the deadline; the log has it")
			for _, o := range outs {
				if o.st != nil {
					o.st.drop()
				}
			}
			<-drained
		}
	}
	p.closeParentEnds()
}

// pump copies one output of the process to the log and the held stream.
// Writing to the held stream blocks when the backend is behind, so a slow
// reader slows the process instead of losing bytes.
func (r *run) pump(src *os.File, o output) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			o.Write(buf[:n])
		}
		if err != nil {
			// EIO is how a pty master reports that the last slave is closed.
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
				r.diag("read %s: %v", o.st.kind, err)
			}
			break
		}
	}
	o.close()
}

// copyStdin feeds the backend's stdin streams to the process, counting what
// it delivered: a stream reopened after a drop starts at an earlier offset,
// and the bytes delivered already are skipped, so each byte reaches the
// process exactly once. It acks every protocol.AckEvery bytes and at the end
// of a stream, so the backend can forget them. The end of a stream closes the
// process's stdin (not possible with a tty, whose input and output are one
// file), unless it ended because the connection dropped: the backend then
// opens a new stream on the next connection.
func (r *run) copyStdin(ps *procState, p *proc) {
	key := protocol.StreamKey(ps.id, protocol.StreamStdin)
	var dst io.Writer = p.stdin
	ack := func() {
		ps.stdinMu.Lock()
		off := ps.stdinDelivered
		ps.stdinMu.Unlock()
		r.link.sendMsg(protocol.Message{Type: protocol.MsgAck, Stream: key, Offset: off})
	}
	buf := make([]byte, 32<<10)
	for {
		var s stdinStream
		select {
		case s = <-ps.stdinCh:
		case <-ps.done:
			return
		}
		st := s.conn
		ps.stdinMu.Lock()
		skip := ps.stdinDelivered - s.offset
		ps.stdinMu.Unlock()
		if skip < 0 {
			r.diag("stdin stream resumes at %d but only %d bytes were delivered", s.offset, s.offset+skip)
			_ = st.Close()
			continue
		}
		var err error
		if skip > 0 {
			_, err = io.CopyN(io.Discard, st, skip)
		}
		var sinceAck int
		for err == nil {
			var n int
			n, err = st.Read(buf)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, os.ErrClosed) {
						r.diag("stdin: %v", werr)
					}
					dst = io.Discard // the process closed its stdin: consume the rest
				}
				ps.stdinMu.Lock()
				ps.stdinDelivered += int64(n)
				ps.stdinMu.Unlock()
				if sinceAck += n; sinceAck >= protocol.AckEvery {
					ack()
					sinceAck = 0
				}
			}
		}
		ys, ok := st.(*yamux.Stream)
		if !errors.Is(err, io.EOF) || (ok && ys.Session().IsClosed()) {
			if sinceAck > 0 {
				ack() // lost with a dead connection; the next hello reports it
			}
			continue
		}
		ps.stdinMu.Lock()
		ps.stdinEnded = true
		ps.stdinMu.Unlock()
		ack()
		_ = st.Close()
		if !ps.spec.Tty {
			_ = p.stdin.Close()
		}
		return
	}
}
