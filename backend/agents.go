package backend

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// agents is the callback listener: the agents inside the functions dial it,
// since Lambda functions accept no inbound connections.
type agents struct {
	b        *Backend
	mu       sync.Mutex
	runs     map[[32]byte]*run // by sha256 of the token
	upgrader websocket.Upgrader
	server   *http.Server
}

func newAgents(b *Backend) *agents {
	a := &agents{b: b, runs: map[[32]byte]*run{}}
	a.upgrader = websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+protocol.ConnectPath, a.serveConnect)
	a.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return a
}

// issue registers r's token; the agent of that run, and only it, may connect.
func (a *agents) issue(r *run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runs[sha256.Sum256([]byte(r.token))] = r
}

// revoke makes r's token useless, so that it cannot be replayed.
func (a *agents) revoke(r *run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.runs, sha256.Sum256([]byte(r.token)))
}

func (a *agents) serve(ln net.Listener) {
	if err := a.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("callback listener stopped", "err", err)
	}
}

func (a *agents) serveConnect(w http.ResponseWriter, req *http.Request) {
	token, _ := strings.CutPrefix(req.Header.Get(protocol.HeaderAuthorization), "Bearer ")
	cid := req.Header.Get(protocol.HeaderContainerID)
	a.mu.Lock()
	r := a.runs[sha256.Sum256([]byte(token))]
	a.mu.Unlock()
	if token == "" || r == nil || r.container.ID != cid {
		slog.Warn("agent connection refused: no valid token for this container", "remote", req.RemoteAddr, "container", cid)
		http.Error(w, "invalid or expired token", http.StatusUnauthorized)
		return
	}
	ws, err := a.upgrader.Upgrade(w, req, nil)
	if err != nil {
		slog.Warn("agent websocket upgrade failed", "container", cid, "err", err)
		return
	}
	sess, err := yamux.Server(protocol.NewConn(ws), protocol.YamuxConfig())
	if err != nil {
		ws.Close()
		return
	}
	slog.Debug("agent connected", "container", cid, "remote", req.RemoteAddr)
	a.b.handleSession(r, sess)
}

// handleSession serves one agent connection until it closes.
func (b *Backend) handleSession(r *run, sess *yamux.Session) {
	defer sess.Close()
	c := r.container
	outputs := newOutputTracker()
	for {
		stream, err := sess.AcceptStream()
		if err != nil {
			break
		}
		br := bufio.NewReader(stream)
		line, err := br.ReadBytes('\n')
		if err != nil {
			stream.Close()
			continue
		}
		var h protocol.StreamHeader
		if err := json.Unmarshal(line, &h); err != nil {
			slog.Warn("agent stream with a bad header", "container", c.ID, "err", err)
			stream.Close()
			continue
		}
		switch h.Kind {
		case protocol.StreamControl:
			go b.serveControl(r, sess, stream, br, outputs)
		case protocol.StreamStdout, protocol.StreamStderr:
			go func() {
				defer outputs.closed()
				defer stream.Close()
				b.copyOutput(c, h.Kind, br)
			}()
		default:
			slog.Warn("agent stream of unknown kind", "container", c.ID, "kind", h.Kind)
			stream.Close()
		}
	}
	// The connection is gone. If the run has not reported its exit, the
	// agent may redial with the same token; give it a moment, then record the
	// loss rather than leave the container running forever.
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.mu.Lock()
		reconnected := r.session != nil && r.session != sess && !r.session.IsClosed()
		r.mu.Unlock()
		if !reconnected {
			b.finishRun(r, 137, "lost the connection to the container's agent before it reported an exit code")
		}
	}
}

// copyOutput reads one output stream of the main process and hands it to the
// attached clients.
func (b *Backend) copyOutput(c *Container, stream string, rd io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := rd.Read(buf)
		if n > 0 {
			c.hub.write(stream, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// serveControl reads the control stream: hello, then exit.
func (b *Backend) serveControl(r *run, sess *yamux.Session, stream net.Conn, br *bufio.Reader, outputs *outputTracker) {
	defer stream.Close()
	c := r.container
	dec := json.NewDecoder(br)
	for {
		var m protocol.Message
		if err := dec.Decode(&m); err != nil {
			return
		}
		switch m.Type {
		case protocol.MsgHello:
			r.mu.Lock()
			r.session, r.control = sess, json.NewEncoder(stream)
			r.requestID, r.logStream = m.RequestID, m.LogStream
			r.mu.Unlock()
			b.agentHello(r, m)
			select {
			case <-r.connected:
			default:
				close(r.connected)
			}
			if r.inv.Process.OpenStdin {
				go b.feedStdin(r, sess)
			}
		case protocol.MsgExit:
			// Every output byte must reach the attached clients before the
			// exit is visible: `docker run` prints, then exits. The exit
			// travels on another stream than the output, so it can arrive
			// first: wait for the end of every output stream.
			want := 2
			if r.inv.Process.Tty {
				want = 1
			}
			if !outputs.wait(want, 30*time.Second) {
				slog.Warn("container output did not end within 30s of its exit", "container", c.ID[:12])
			}
			r.send(protocol.Message{Type: protocol.MsgExitAck, ID: m.ID})
			code := 0
			if m.ExitCode != nil {
				code = *m.ExitCode
			}
			b.finishRun(r, code, m.Error)
		}
	}
}

// feedStdin copies the attached client's stdin to the agent.
func (b *Backend) feedStdin(r *run, sess *yamux.Session) {
	c := r.container
	if c.stdin == nil {
		return
	}
	s, err := sess.OpenStream()
	if err != nil {
		return
	}
	defer s.Close()
	hdr, _ := json.Marshal(protocol.StreamHeader{Kind: protocol.StreamStdin})
	if _, err := s.Write(append(hdr, '\n')); err != nil {
		return
	}
	_, _ = io.Copy(s, c.stdin.reader())
}

// finishRun records the end of a run, once: exit code, waiters woken,
// attached clients closed, token revoked, and the container removed when
// it was started with --rm.
func (b *Backend) finishRun(r *run, code int, errMsg string) {
	r.endOnce.Do(func() {
		c := r.container
		b.agents.revoke(r)
		b.recordExit(c, code, errMsg, time.Now().UTC())
		c.hub.closeAll()
		close(r.done)
		slog.Info("container exited", "container", c.ID[:12], "exitCode", code)
		if c.HostConfig.AutoRemove {
			go func() {
				if err := b.removeContainer(context.Background(), c); err != nil {
					slog.Error("auto-remove failed", "container", c.ID[:12], "err", err)
				}
			}()
		}
	})
}

// outputTracker counts the output streams of a connection that have ended.
type outputTracker struct {
	mu      sync.Mutex
	ended   int
	changed chan struct{}
}

func newOutputTracker() *outputTracker { return &outputTracker{changed: make(chan struct{})} }

func (t *outputTracker) closed() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended++
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait waits until n output streams have ended, at most d.
func (t *outputTracker) wait(n int, d time.Duration) bool {
	deadline := time.After(d)
	for {
		t.mu.Lock()
		ended, changed := t.ended, t.changed
		t.mu.Unlock()
		if ended >= n {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

// errNotRunning answers a start of a running container: 304.
var errNotRunning = fmt.Errorf("already running")
