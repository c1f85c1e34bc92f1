package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// fakeRuntime is the Lambda Runtime API: /next hands out queued events.
type fakeRuntime struct {
	srv     *httptest.Server
	events  chan fakeEvent
	results chan runtimeResult
}

type fakeEvent struct {
	id       string
	deadline time.Time
	payload  []byte
}

type runtimeResult struct {
	requestID string
	kind      string // "response" or "error"
	body      []byte
}

func newFakeRuntime(t *testing.T) *fakeRuntime {
	f := &fakeRuntime{events: make(chan fakeEvent, 10), results: make(chan runtimeResult, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case ev := <-f.events:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", ev.id)
			if !ev.deadline.IsZero() {
				w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(ev.deadline.UnixMilli(), 10))
			}
			_, _ = w.Write(ev.payload)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{kind}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.results <- runtimeResult{requestID: r.PathValue("id"), kind: r.PathValue("kind"), body: body}
		w.WriteHeader(http.StatusAccepted)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRuntime) push(id string, deadline time.Time, v any) {
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	f.events <- fakeEvent{id: id, deadline: deadline, payload: b}
}

func (f *fakeRuntime) result(t *testing.T) runtimeResult {
	t.Helper()
	select {
	case r := <-f.results:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no result posted to the runtime API")
		return runtimeResult{}
	}
}

// fakeBackend accepts agent connections like the backend's callback listener,
// using the same protocol.Inbound to receive resumable output.
type fakeBackend struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	conns chan *agentConn
	// noAck: never send exitAck.
	noAck bool
	// dropAt: close the first connection once this many output bytes arrived.
	dropAt int64
	// stdinSrc, when set, is the main process's stdin, sent like the
	// backend sends it (protocol.StdinFeed), resumed on every connection.
	stdinSrc io.Reader

	mu   sync.Mutex
	runs map[string]*fakeRun // by run ID
	last *agentConn
}

// dropCurrent closes the latest connection, as if the network failed.
func (b *fakeBackend) dropCurrent() {
	b.mu.Lock()
	c := b.last
	b.mu.Unlock()
	if c != nil {
		_ = c.ws.NetConn().Close()
	}
}

// fakeRun is what the backend keeps of a run across connections.
type fakeRun struct {
	in      *protocol.Inbound
	mu      sync.Mutex
	bufs    map[string]*bytes.Buffer // by stream key
	total   int64
	dropped bool
	changed chan struct{}
	feed    *protocol.StdinFeed
}

// agentConn is one agent connection as the backend sees it.
type agentConn struct {
	header  http.Header
	ws      *websocket.Conn
	session *yamux.Session
	run     *fakeRun
	msgs    chan protocol.Message // control messages from the agent, but started and reply
	started chan protocol.Message
	replies chan protocol.Message
	ctrl    *yamux.Stream
	ctrlMu  sync.Mutex

	mu    sync.Mutex
	kinds []string // order in which streams were opened
}

func newFakeBackend(t *testing.T, token string) *fakeBackend {
	return newFakeBackendTLS(t, token, false)
}

func newFakeBackendTLS(t *testing.T, token string, useTLS bool) *fakeBackend {
	b := &fakeBackend{t: t, token: token, conns: make(chan *agentConn, 10), runs: map[string]*fakeRun{}}
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.ConnectPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(protocol.HeaderAuthorization) != "Bearer "+b.token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sess, err := yamux.Server(protocol.NewConn(ws), protocol.YamuxConfig())
		if err != nil {
			t.Errorf("yamux server: %v", err)
			return
		}
		b.mu.Lock()
		run := b.runs[r.Header.Get(protocol.HeaderRunID)]
		if run == nil {
			run = &fakeRun{in: protocol.NewInbound(), bufs: map[string]*bytes.Buffer{}, changed: make(chan struct{}, 1)}
			b.runs[r.Header.Get(protocol.HeaderRunID)] = run
		}
		b.mu.Unlock()
		c := &agentConn{header: r.Header.Clone(), ws: ws, session: sess, run: run, msgs: make(chan protocol.Message, 100),
			started: make(chan protocol.Message, 1024), replies: make(chan protocol.Message, 100)}
		b.mu.Lock()
		b.last = c
		b.mu.Unlock()
		go b.serve(c)
		b.conns <- c
	})
	if useTLS {
		b.srv = httptest.NewTLSServer(mux)
	} else {
		b.srv = httptest.NewServer(mux)
	}
	t.Cleanup(b.srv.Close)
	return b
}

// url is ws:// or wss://, as the server is plain or TLS.
func (b *fakeBackend) url() string { return "ws" + strings.TrimPrefix(b.srv.URL, "http") }

func (b *fakeBackend) conn(t *testing.T) *agentConn {
	t.Helper()
	select {
	case c := <-b.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not connect")
		return nil
	}
}

// sink collects one stream and drops the connection at dropAt.
type sink struct {
	b   *fakeBackend
	c   *agentConn
	key string
}

func (s sink) Write(p []byte) (int, error) {
	r := s.c.run
	r.mu.Lock()
	buf := r.bufs[s.key]
	if buf == nil {
		buf = &bytes.Buffer{}
		r.bufs[s.key] = buf
	}
	buf.Write(p)
	r.total += int64(len(p))
	drop := s.b.dropAt > 0 && r.total >= s.b.dropAt && !r.dropped
	if drop {
		r.dropped = true
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	if drop {
		_ = s.c.ws.NetConn().Close() // as if the network failed
	}
	return len(p), nil
}

func (b *fakeBackend) serve(c *agentConn) {
	for {
		st, err := c.session.AcceptStream()
		if err != nil {
			return
		}
		br := bufio.NewReader(st)
		line, err := br.ReadBytes('\n')
		if err != nil {
			continue // a stream cut by a drop
		}
		var h protocol.StreamHeader
		if err := json.Unmarshal(line, &h); err != nil {
			b.t.Errorf("stream header %q: %v", line, err)
			return
		}
		c.mu.Lock()
		c.kinds = append(c.kinds, h.Kind)
		c.mu.Unlock()
		switch h.Kind {
		case protocol.StreamControl:
			c.ctrl = st
			go b.control(c, br)
		case protocol.StreamStdout, protocol.StreamStderr:
			go func() {
				_ = c.run.in.Receive(h, br, sink{b: b, c: c, key: protocol.StreamKey(h.ID, h.Kind)}, func(key string, off int64) {
					c.send(protocol.Message{Type: protocol.MsgAck, Stream: key, Offset: off})
				})
			}()
		default:
			b.t.Errorf("unexpected stream kind %q", h.Kind)
		}
	}
}

func (b *fakeBackend) control(c *agentConn, br *bufio.Reader) {
	defer close(c.msgs)
	sc := bufio.NewScanner(br)
	for sc.Scan() {
		var m protocol.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			b.t.Errorf("control message %q: %v", sc.Text(), err)
			continue
		}
		switch m.Type {
		case protocol.MsgHello:
			c.send(protocol.Message{Type: protocol.MsgWelcome, Offsets: c.run.in.Offsets()})
			if b.stdinSrc != nil {
				if c.run.feed == nil {
					c.run.feed = protocol.NewStdinFeed("", b.stdinSrc)
					b.t.Cleanup(c.run.feed.Stop)
				}
				c.run.feed.Attach(c.session, m.Offsets[c.run.feed.Key()])
			}
		case protocol.MsgStarted:
			c.started <- m
			continue
		case protocol.MsgReply:
			c.replies <- m
			continue
		case protocol.MsgAck:
			if c.run.feed != nil && m.Stream == c.run.feed.Key() {
				c.run.feed.Ack(m.Offset)
			}
			continue
		case protocol.MsgExit:
			// Like the backend: the exit counts (and is acked) only once every
			// output byte of the process was received.
			if c.run.in.WaitSizes(m.ID, m.Sizes, 20*time.Second, c.session.CloseChan()) && !b.noAck {
				c.send(protocol.Message{Type: protocol.MsgExitAck, ID: m.ID})
			}
		}
		c.msgs <- m
	}
}

func (c *agentConn) send(m protocol.Message) {
	b, _ := json.Marshal(m)
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	_, _ = c.ctrl.Write(append(b, '\n'))
}

func (c *agentConn) output(kind string) (string, bool) { return c.outputOf("", kind) }

func (c *agentConn) outputOf(id, kind string) (string, bool) {
	c.run.mu.Lock()
	defer c.run.mu.Unlock()
	buf, ok := c.run.bufs[protocol.StreamKey(id, kind)]
	if !ok {
		return "", false
	}
	return buf.String(), true
}

// waitOutput waits until stream kind contains s.
func (c *agentConn) waitOutput(t *testing.T, kind, s string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if out, _ := c.output(kind); strings.Contains(out, s) {
			return
		}
		select {
		case <-c.run.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s never contained %q", kind, s)
		}
	}
}

// next returns the next control message.
func (c *agentConn) next(t *testing.T) protocol.Message {
	t.Helper()
	return recv(t, c.msgs)
}

func recv(t *testing.T, ch chan protocol.Message) protocol.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("control stream closed")
		}
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no control message")
		return protocol.Message{}
	}
}

func (c *agentConn) openStdin(t *testing.T) *yamux.Stream { return c.openStdinOf(t, "") }

func (c *agentConn) openStdinOf(t *testing.T, id string) *yamux.Stream {
	t.Helper()
	return c.open(t, protocol.StreamHeader{Kind: protocol.StreamStdin, ID: id})
}

func (c *agentConn) open(t *testing.T, h protocol.StreamHeader) *yamux.Stream {
	t.Helper()
	st, err := c.session.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(h)
	if _, err := st.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	return st
}

// syncBuffer is the agent's stdout in tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	runs    atomic.Int64
	rt      *fakeRuntime
	backend *fakeBackend
	stdout  *syncBuffer
	stderr  *syncBuffer
	agent   *Agent
}

func startAgent(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{rt: newFakeRuntime(t), backend: newFakeBackend(t, "tok-123"), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	cfg := Config{
		AgentVersion:   "test-1",
		Runtime:        NewRuntimeClient(strings.TrimPrefix(e.rt.srv.URL, "http://")),
		Stdout:         e.stdout,
		Stderr:         e.stderr,
		LogGroup:       "/aws/lambda/fn",
		LogStream:      "2026/01/01/[$LATEST]abc",
		Dial:           DialPolicy{FirstBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Total: 2 * time.Second},
		ExitAckTimeout: 3 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	e.agent = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("agent stderr:\n%s", e.stderr.String())
			t.Logf("agent stdout:\n%s", e.stdout.String())
		}
	})
	return e
}

func (e *testEnv) invocation(args ...string) protocol.Invocation {
	return protocol.Invocation{
		Version:     protocol.Version,
		ContainerID: "c0ffee",
		RunID:       fmt.Sprint("run-", e.runs.Add(1)),
		CallbackURL: e.backend.url(),
		Token:       "tok-123",
		Process:     protocol.Process{Args: args, Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}},
	}
}

// logOf reconstructs each stream from the agent's log lines and returns the
// exit record, checking that it is the last line.
func logOf(t *testing.T, out string) (streams map[string]string, exit *protocol.ExitInfo) {
	t.Helper()
	streams = map[string]string{}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range lines {
		line, ex, ok := protocol.ParseLogLine(l)
		if !ok {
			t.Fatalf("log line %d does not parse: %q", i, l)
		}
		if ex != nil {
			if i != len(lines)-1 {
				t.Fatalf("exit record is line %d of %d", i+1, len(lines))
			}
			exit = ex
			continue
		}
		if len(line.Log) > protocol.MaxLogLine {
			t.Fatalf("log line of %d bytes", len(line.Log))
		}
		streams[line.Stream] += line.Log
	}
	if exit == nil {
		t.Fatal("no exit record in the log")
	}
	return streams, exit
}

func decodeResponse(t *testing.T, r runtimeResult) protocol.Response {
	t.Helper()
	if r.kind != "response" {
		t.Fatalf("posted %s: %s", r.kind, r.body)
	}
	var resp protocol.Response
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}
