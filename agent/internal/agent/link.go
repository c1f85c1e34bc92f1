package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// link is a run's connection to the backend, kept up for the whole run: it
// is redialled with backoff when it drops, and on every new connection the
// output streams are resumed where the backend says it stopped and the exits
// it has not acked are sent again. When the backend cannot be reached for a
// whole dial policy, the link is dead: output then goes to the log only.
type link struct {
	inv      *protocol.Invocation
	policy   DialPolicy
	hello    protocol.Message
	diag     func(string, ...any)
	onMsg    func(protocol.Message)                // control messages from the backend
	onStream func(net.Conn, protocol.StreamHeader) // streams the backend opens
	// stdinOffsets reports, in each hello, the stdin bytes delivered to each
	// process (by stream key), so the backend resends only the rest.
	stdinOffsets func() map[string]int64

	mu       sync.Mutex
	conn     *backendConn // nil while disconnected
	ctrl     *control
	alive    chan struct{} // closed when the current connection ends
	streams  map[string]*outStream
	exits    map[string]protocol.Message // sent, not acked yet; by process ID
	starts   map[string]protocol.Message // started, for processes not ended yet
	acked    map[string]chan struct{}    // closed at exitAck, by process ID
	dead     bool
	closed   bool
	deadCh   chan struct{}
	upCh     chan struct{} // closed at the first connection or death
	upOnce   sync.Once
	stopDial context.CancelFunc
}

func newLink(inv *protocol.Invocation, policy DialPolicy, hello protocol.Message, diag func(string, ...any)) *link {
	return &link{
		inv: inv, policy: policy, hello: hello, diag: diag,
		streams: map[string]*outStream{}, exits: map[string]protocol.Message{}, starts: map[string]protocol.Message{},
		acked: map[string]chan struct{}{}, deadCh: make(chan struct{}), upCh: make(chan struct{}),
	}
}

// start dials in the background until the link is closed or dead.
func (l *link) start(ctx context.Context) {
	ctx, l.stopDial = context.WithCancel(ctx)
	go l.loop(ctx)
}

func (l *link) loop(ctx context.Context) {
	defer l.die()
	for attempt := 0; ; attempt++ {
		conn, err := dialBackend(ctx, l.inv, l.policy, l.diag)
		if err != nil {
			if ctx.Err() == nil {
				l.diag("no backend connection, output goes to the log only: %v", err)
			}
			return
		}
		if err := l.serve(conn, attempt > 0); err != nil && !l.isClosed() {
			l.diag("backend connection: %v; redialling", err)
		}
		if l.isClosed() {
			return
		}
	}
}

// serve runs one connection: hello, welcome, resumed streams and exits, then
// control messages until the connection ends.
func (l *link) serve(conn *backendConn, resume bool) error {
	defer conn.Close()
	ctrl, err := openControl(conn.session)
	if err != nil {
		return err
	}
	hello := l.hello
	hello.Resume = resume
	if l.stdinOffsets != nil {
		hello.Offsets = l.stdinOffsets()
	}
	if err := ctrl.send(hello); err != nil {
		return err
	}
	msgs := make(chan protocol.Message, 64)
	readErr := make(chan error, 1)
	go func() {
		readErr <- ctrl.readLoop(func(m protocol.Message) { msgs <- m }, l.diag)
		close(msgs)
	}()
	var welcome protocol.Message
	select {
	case welcome = <-msgs:
	case <-time.After(10 * time.Second):
		go func() {
			for range msgs { // until the deferred Close ends the read loop
			}
		}()
		return errors.New("no welcome from the backend")
	}
	if welcome.Type != protocol.MsgWelcome {
		return fmt.Errorf("expected welcome, got %q", welcome.Type)
	}

	alive := make(chan struct{})
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.conn, l.ctrl, l.alive = conn, ctrl, alive
	streams := make([]*outStream, 0, len(l.streams))
	for _, s := range l.streams {
		streams = append(streams, s)
	}
	exits := make([]protocol.Message, 0, len(l.starts)+len(l.exits))
	for _, m := range l.starts {
		exits = append(exits, m)
	}
	for _, m := range l.exits {
		exits = append(exits, m)
	}
	l.mu.Unlock()
	l.upOnce.Do(func() { close(l.upCh) })

	for _, s := range streams {
		go l.send(conn, alive, s, welcome.Offsets[s.key()])
	}
	for _, m := range exits {
		_ = ctrl.send(m)
	}
	go l.acceptLoop(conn)
	for m := range msgs {
		l.handle(m)
	}
	err = <-readErr

	l.mu.Lock()
	if l.conn == conn {
		l.conn, l.ctrl = nil, nil
	}
	close(alive)
	streams = streams[:0]
	for _, s := range l.streams {
		streams = append(streams, s)
	}
	l.mu.Unlock()
	for _, s := range streams {
		s.wake()
	}
	if errors.Is(err, io.EOF) {
		return errors.New("closed by the backend")
	}
	return err
}

func (l *link) handle(m protocol.Message) {
	switch m.Type {
	case protocol.MsgAck:
		l.mu.Lock()
		s := l.streams[m.Stream]
		l.mu.Unlock()
		if s != nil {
			s.ack(m.Offset)
		}
	case protocol.MsgExitAck:
		l.mu.Lock()
		delete(l.exits, m.ID)
		delete(l.starts, m.ID)
		for k, s := range l.streams {
			if s.id == m.ID {
				delete(l.streams, k)
				s.drop()
			}
		}
		if ch, ok := l.acked[m.ID]; ok {
			close(ch)
			delete(l.acked, m.ID)
		}
		l.mu.Unlock()
	default:
		l.onMsg(m)
	}
}

func (l *link) acceptLoop(conn *backendConn) {
	for {
		st, err := conn.session.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			h, err := readStreamHeader(st)
			if err != nil {
				l.diag("%v", err)
				_ = st.Close()
				return
			}
			l.onStream(st, h)
		}()
	}
}

// send copies s to the backend over conn from offset off, until the end of
// the stream or of the connection.
func (l *link) send(conn *backendConn, alive chan struct{}, s *outStream, off int64) {
	isAlive := func() bool {
		select {
		case <-alive:
			return false
		default:
			return true
		}
	}
	off = s.startAt(off)
	st, err := openStream(conn.session, s.kind, s.id, off)
	if err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, eof, ok := s.readAt(off, buf, isAlive)
		if !ok {
			_ = st.Close()
			return
		}
		if eof {
			_ = st.Close() // FIN: the backend has the whole stream
			return
		}
		if _, err := st.Write(buf[:n]); err != nil {
			return // the connection broke; the next one resends from the backend's offset
		}
		off += int64(n)
	}
}

// register adds an output stream; it is sent on the current connection at
// once and resumed on every later one until its process's exit is acked.
func (l *link) register(s *outStream) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		s.drop()
		return
	}
	l.streams[s.key()] = s
	conn, alive := l.conn, l.alive
	l.mu.Unlock()
	if conn != nil {
		go l.send(conn, alive, s, 0)
	}
}

// sendMsg sends a control message on the current connection; false when
// there is none (replies to requests are then lost, which their sender sees).
func (l *link) sendMsg(m protocol.Message) bool {
	l.mu.Lock()
	ctrl := l.ctrl
	l.mu.Unlock()
	return ctrl != nil && ctrl.send(m) == nil
}

// started reports a process's start (its PID), now or on the next
// connection, and again on every later one until its exit is acked.
func (l *link) started(m protocol.Message) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	l.starts[m.ID] = m
	ctrl := l.ctrl
	l.mu.Unlock()
	if ctrl != nil {
		_ = ctrl.send(m)
	}
}

// exit reports a process's end. The message is sent again on every new
// connection until the backend acks it; the channel is closed then.
func (l *link) exit(m protocol.Message) <-chan struct{} {
	ch := make(chan struct{})
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		close(ch)
		return ch
	}
	l.exits[m.ID] = m
	l.acked[m.ID] = ch
	ctrl := l.ctrl
	l.mu.Unlock()
	if ctrl != nil {
		_ = ctrl.send(m)
	}
	return ch
}

// up is closed when the first connection is made or the link is dead.
func (l *link) up() <-chan struct{} { return l.upCh }

func (l *link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// die gives up on the backend: held output is dropped, waiters released.
func (l *link) die() {
	l.mu.Lock()
	l.dead = true
	for _, s := range l.streams {
		s.drop()
	}
	l.streams = map[string]*outStream{}
	for id, ch := range l.acked {
		close(ch)
		delete(l.acked, id)
	}
	l.mu.Unlock()
	l.upOnce.Do(func() { close(l.upCh) })
	select {
	case <-l.deadCh:
	default:
		close(l.deadCh)
	}
}

// close ends the link for good, before the invocation's response is posted.
func (l *link) close() {
	l.mu.Lock()
	l.closed = true
	conn := l.conn
	l.mu.Unlock()
	if l.stopDial != nil {
		l.stopDial()
	}
	if conn != nil {
		conn.Close()
	}
	<-l.deadCh
}
