package backend

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
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
// since Lambda functions accept no inbound connections. It is a listener of
// its own, never the Docker API's, and serves wss:// when given a certificate.
type agents struct {
	b        *Backend
	cfg      callbackConfig
	staged   *stagedArchives
	mu       sync.Mutex
	runs     map[string]*run         // live runs, by run ID
	execs    map[string]*execSession // by exec ID
	upgrader websocket.Upgrader
	server   *http.Server
}

func newAgents(b *Backend) (*agents, error) {
	cfg, err := callbackConfigFromEnv(b.cfg.CallbackURL)
	if err != nil {
		return nil, err
	}
	a := &agents{b: b, cfg: cfg, staged: newStagedArchives(), runs: map[string]*run{}, execs: map[string]*execSession{}}
	a.upgrader = websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+protocol.ConnectPath, a.serveConnect)
	a.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// issue registers r: the agent of that run, and only it, may connect. A run
// without a run ID (rebuilt after a restart) is registered when its agent
// redials with a valid token.
func (a *agents) issue(r *run) {
	if r.inv.RunID == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runs[r.inv.RunID] = r
}

// revoke ends r's registration: its token no longer opens a connection.
func (a *agents) revoke(r *run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runs[r.inv.RunID] == r {
		delete(a.runs, r.inv.RunID)
	}
}

func (a *agents) serve(ln net.Listener) {
	if a.cfg.tls != nil {
		ln = tls.NewListener(ln, a.cfg.tls)
	}
	if err := a.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("callback listener stopped", "err", err)
	}
}

// authorize finds the live run a connection's credentials belong to.
func (a *agents) authorize(cid, runID, token string) (*run, error) {
	if token == "" {
		return nil, errors.New("no token")
	}
	if !a.cfg.valid(cid, runID, token) {
		return nil, errors.New("token not valid for this container and run")
	}
	a.mu.Lock()
	r := a.runs[runID]
	a.mu.Unlock()
	if r != nil {
		if r.container.ID != cid {
			return nil, errors.New("token of another container")
		}
		return r, nil
	}
	// Not a run this process started: adopt it if the container is running
	// with a run whose ID was not known (rebuilt after a restart).
	ctr, err := a.b.store.Lookup(cid)
	if err != nil || ctr.ID != cid {
		return nil, errors.New("unknown container")
	}
	snap := a.b.store.Snap(ctr)
	if snap.Status != stateRunning || snap.Run == nil {
		return nil, errors.New("the container is not running: the run is over")
	}
	r = snap.Run
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.inv.RunID != "" && r.inv.RunID != runID {
		return nil, errors.New("token of an earlier run of the container")
	}
	r.inv.RunID = runID
	a.runs[runID] = r
	return r, nil
}

func (a *agents) serveConnect(w http.ResponseWriter, req *http.Request) {
	token, _ := strings.CutPrefix(req.Header.Get(protocol.HeaderAuthorization), "Bearer ")
	cid, runID := req.Header.Get(protocol.HeaderContainerID), req.Header.Get(protocol.HeaderRunID)
	r, err := a.authorize(cid, runID, token)
	if err != nil {
		slog.Warn("agent connection refused", "reason", err.Error(), "remote", req.RemoteAddr, "container", cid, "run", runID)
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
	slog.Debug("agent connected", "container", cid, "run", runID, "remote", req.RemoteAddr)
	a.b.handleSession(r, sess)
}

// handleSession serves one agent connection until it closes. When it drops
// before the run ends, the agent redials; until then (and if it never can)
// the run is followed through CloudWatch (watchRun).
func (b *Backend) handleSession(r *run, sess *yamux.Session) {
	defer sess.Close()
	c := r.container
	for {
		stream, err := sess.AcceptStream()
		if err != nil {
			return
		}
		br := bufio.NewReader(stream)
		line, err := br.ReadBytes('\n')
		if err != nil {
			stream.Close()
			continue
		}
		var h protocol.StreamHeader
		if err := json.Unmarshal(line, &h); err != nil {
			slog.Warn("agent stream with a bad header", "container", c.ID[:12], "err", err)
			stream.Close()
			continue
		}
		switch h.Kind {
		case protocol.StreamControl:
			go b.serveControl(r, sess, stream, br)
		case protocol.StreamStdout, protocol.StreamStderr:
			go func() {
				defer stream.Close()
				err := r.in.Receive(h, br, b.outputSink(r, h), func(key string, off int64) {
					r.send(protocol.Message{Type: protocol.MsgAck, Stream: key, Offset: off})
				})
				if err != nil && !sess.IsClosed() {
					slog.Warn("agent output stream", "container", c.ID[:12], "err", err)
				}
			}()
		default:
			slog.Warn("agent stream of unknown kind", "container", c.ID[:12], "kind", h.Kind)
			stream.Close()
		}
	}
}

// serveControl reads the control stream: hello, started, exit and replies.
func (b *Backend) serveControl(r *run, sess *yamux.Session, stream net.Conn, br *bufio.Reader) {
	defer stream.Close()
	dec := json.NewDecoder(br)
	for {
		var m protocol.Message
		if err := dec.Decode(&m); err != nil {
			return
		}
		switch m.Type {
		case protocol.MsgHello:
			b.hello(r, sess, stream, m)
		case protocol.MsgStarted:
			if m.ID == "" {
				b.agentHello(r, m)
			} else if e := b.agents.exec(m.ID); e != nil {
				e.setPid(m.Pid)
			}
		case protocol.MsgExit:
			go b.exited(r, sess, m)
		case protocol.MsgReply:
			r.reply(m)
		case protocol.MsgPurged:
			b.purged(m.Purged)
		case protocol.MsgAck:
			r.stdinAck(m)
		}
	}
}

// hello answers an agent's hello with what was received so far, then
// resumes everything that flows from the backend to the agent.
func (b *Backend) hello(r *run, sess *yamux.Session, stream net.Conn, m protocol.Message) {
	r.mu.Lock()
	r.requestID, r.logStream = m.RequestID, m.LogStream
	r.mu.Unlock()
	enc := json.NewEncoder(stream)
	if err := enc.Encode(protocol.Message{Type: protocol.MsgWelcome, Offsets: r.in.Offsets()}); err != nil {
		return
	}
	r.attachControl(sess, enc)
	b.agentHello(r, m)
	select {
	case <-r.connected:
	default:
		close(r.connected)
	}
	if r.inv.Process.OpenStdin && r.container.stdin != nil {
		r.stdinFeed("", r.container.stdin.reader())
	}
	r.mu.Lock()
	release := r.inv.HoldStart && !r.started
	r.started = true
	r.mu.Unlock()
	r.resumeStdin(sess, m.Offsets)
	if release {
		go b.applyStaged(r)
	}
}

// exited handles an exit report: once every byte of the process's output
// has been received, the exit is recorded and acked. An exit that came on a
// connection which then dropped is sent again on the next one.
func (b *Backend) exited(r *run, sess *yamux.Session, m protocol.Message) {
	if !r.in.WaitSizes(m.ID, m.Sizes, 30*time.Second, sess.CloseChan()) {
		if sess.IsClosed() {
			return
		}
		slog.Warn("process output did not all arrive within 30s of its exit", "container", r.container.ID[:12], "exec", m.ID)
	}
	code := 0
	if m.ExitCode != nil {
		code = *m.ExitCode
	}
	if m.ID != "" {
		if e := b.agents.exec(m.ID); e != nil {
			e.finish(code)
		}
		r.send(protocol.Message{Type: protocol.MsgExitAck, ID: m.ID})
		r.in.Forget(m.ID)
		return
	}
	r.send(protocol.Message{Type: protocol.MsgExitAck})
	b.finishRun(r, code, m.Error, m.Reason)
}

// finishRun records the end of a run, once: exit code, waiters woken,
// attached clients closed, token revoked, and the container removed when
// it was started with --rm.
func (b *Backend) finishRun(r *run, code int, errMsg, reason string) {
	r.endOnce.Do(func() {
		c := r.container
		if reason == "timeout" {
			// Said in the log by the agent; said here to attached clients.
			stream := protocol.StreamStderr
			if c.Config.Tty {
				stream = protocol.StreamStdout
			}
			c.hub.write(r, stream, []byte(protocol.DeadlineMessage))
		}
		b.agents.revoke(r)
		b.agents.staged.take(c.ID)
		b.recordExit(c, code, errMsg, time.Now().UTC())
		c.hub.closeAll()
		r.mu.Lock()
		execs := r.execs
		feeds := r.feeds
		r.mu.Unlock()
		for _, e := range execs {
			e.finish(128 + 9) // ended with the container, as Docker kills them
		}
		for _, f := range feeds {
			f.stop()
		}
		close(r.done)
		slog.Info("container exited", "container", c.ID[:12], "exitCode", code)
		b.restartAfterExit(c, code)
		if c.HostConfig.AutoRemove {
			go func() {
				if err := b.removeContainer(context.Background(), c); err != nil {
					slog.Error("auto-remove failed", "container", c.ID[:12], "err", err)
					return
				}
				b.removeAnonymousVolumes(c)
			}()
		}
	})
}

// openAgentStream opens a stream to the run's agent with header h.
func (r *run) openAgentStream(h protocol.StreamHeader) (*yamux.Stream, error) {
	r.mu.Lock()
	sess := r.session
	r.mu.Unlock()
	if sess == nil || sess.IsClosed() {
		return nil, errors.New("the container's agent is not connected")
	}
	return openStreamOn(sess, h)
}

func openStreamOn(sess *yamux.Session, h protocol.StreamHeader) (*yamux.Stream, error) {
	st, err := sess.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open %s stream: %w", h.Kind, err)
	}
	hdr, _ := json.Marshal(h)
	if _, err := st.Write(append(hdr, '\n')); err != nil {
		st.Close()
		return nil, fmt.Errorf("write %s stream header: %w", h.Kind, err)
	}
	return st, nil
}
