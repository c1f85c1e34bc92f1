package backend

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// run is one start of a container: one Lambda invocation and the agent
// connections that belong to it (one at a time; the agent redials after a
// drop and the output resumes where it stopped).
type run struct {
	container *Container
	token     string
	inv       protocol.Invocation
	in        *protocol.Inbound // output received, across connections

	mu        sync.Mutex
	session   *yamux.Session // the current connection; nil before the first
	control   *json.Encoder  // writes to the control stream, under mu
	requestID string
	logStream string
	queued    []protocol.Message               // control messages waiting for a connection
	execs     map[string]*execSession          // by exec ID
	feeds     map[string]*stdinFeed            // stdin of the main process ("") and execs
	requests  map[string]chan protocol.Message // replies awaited, by request ID
	started   bool                             // the agent has been released (MsgStart) or needed no release

	connected chan struct{} // closed when the agent first said hello
	done      chan struct{} // closed when the run has ended and its exit is recorded
	endOnce   sync.Once
}

func newRun(c *Container, token string, inv protocol.Invocation) *run {
	return &run{
		container: c, token: token, inv: inv, in: protocol.NewInbound(),
		execs: map[string]*execSession{}, feeds: map[string]*stdinFeed{}, requests: map[string]chan protocol.Message{},
		connected: make(chan struct{}), done: make(chan struct{}),
	}
}

// send writes a control message to the agent; while no agent is connected
// (before its first hello, or between a drop and its redial) the message is
// queued and sent on the next connection. It is false once the run is over.
func (r *run) send(m protocol.Message) bool {
	select {
	case <-r.done:
		return false
	default:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.control == nil || r.session == nil || r.session.IsClosed() {
		r.queued = append(r.queued, m)
		return true
	}
	return r.control.Encode(m) == nil
}

// attachControl makes enc the way to the agent and flushes the queue.
func (r *run) attachControl(sess *yamux.Session, enc *json.Encoder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.session, r.control = sess, enc
	for _, m := range r.queued {
		_ = enc.Encode(m)
	}
	r.queued = nil
}

// request sends m with a fresh request ID and waits for the agent's reply.
func (r *run) request(m protocol.Message, timeout time.Duration) (protocol.Message, error) {
	m.Req = newID()[:16]
	ch := make(chan protocol.Message, 1)
	r.mu.Lock()
	r.requests[m.Req] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.requests, m.Req)
		r.mu.Unlock()
	}()
	if !r.send(m) {
		return protocol.Message{}, fmt.Errorf("the container is not running")
	}
	select {
	case reply := <-ch:
		if reply.Error != "" {
			return reply, fmt.Errorf("%s", reply.Error)
		}
		return reply, nil
	case <-r.done:
		return protocol.Message{}, fmt.Errorf("the container stopped")
	case <-time.After(timeout):
		return protocol.Message{}, fmt.Errorf("the container's agent did not answer %s within %s", m.Type, timeout)
	}
}

// reply hands an agent's reply to the request waiting for it.
func (r *run) reply(m protocol.Message) {
	r.mu.Lock()
	ch := r.requests[m.Req]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
}

// hub fans the container's live output out to the attached clients. A slow
// client slows the copy from the agent, which slows the process: nothing is
// dropped. A client whose connection fails is detached.
type hub struct {
	mu        sync.Mutex
	subs      map[*attachment]struct{}
	followers map[*follower]struct{} // docker logs -f: never slow the process
}

// attachment is one attached client.
type attachment struct {
	mu     sync.Mutex // serialises frames from the two streams
	stdout io.Writer  // nil when not attached to stdout
	stderr io.Writer
	done   chan struct{}
	once   sync.Once
}

func newAttachment() *attachment { return &attachment{done: make(chan struct{})} }

func (a *attachment) close() { a.once.Do(func() { close(a.done) }) }

func (h *hub) add(a *attachment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*attachment]struct{}{}
	}
	h.subs[a] = struct{}{}
}

func (h *hub) remove(a *attachment) {
	h.mu.Lock()
	delete(h.subs, a)
	h.mu.Unlock()
	a.close()
}

func (h *hub) snapshot() []*attachment {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*attachment, 0, len(h.subs))
	for a := range h.subs {
		out = append(out, a)
	}
	return out
}

// write copies p, the next bytes of run r's stream, to every client attached
// to stream and every follower.
func (h *hub) write(r *run, stream string, p []byte) {
	// While the sink is written, the run has delivered what precedes p.
	off := r.in.Delivered(protocol.StreamKey("", stream))
	h.mu.Lock()
	followers := make([]*follower, 0, len(h.followers))
	for f := range h.followers {
		if f.run == r {
			followers = append(followers, f)
		}
	}
	h.mu.Unlock()
	for _, f := range followers {
		f.deliver(liveChunk{stream: stream, off: off, data: append([]byte(nil), p...), at: time.Now().UTC()})
	}
	for _, a := range h.snapshot() {
		w := a.stdout
		if stream == protocol.StreamStderr {
			w = a.stderr
		}
		if w == nil {
			continue
		}
		a.mu.Lock()
		_, err := w.Write(p)
		a.mu.Unlock()
		if err != nil {
			h.remove(a)
		}
	}
}

// follow adds a follower of run r's output: it gets every chunk written from
// now on, each with its offset in the run's stream, and learns how much of
// each stream the run had delivered before.
func (h *hub) follow(r *run) (*follower, map[string]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.followers == nil {
		h.followers = map[*follower]struct{}{}
	}
	f := newFollower(r)
	h.followers[f] = struct{}{}
	return f, r.delivered()
}

// delivered is how much of the main process's output the run has received,
// by stream.
func (r *run) delivered() map[string]int64 {
	return map[string]int64{
		protocol.StreamStdout: r.in.Delivered(protocol.StreamKey("", protocol.StreamStdout)),
		protocol.StreamStderr: r.in.Delivered(protocol.StreamKey("", protocol.StreamStderr)),
	}
}

func (h *hub) unfollow(f *follower) {
	h.mu.Lock()
	delete(h.followers, f)
	h.mu.Unlock()
}

// writer is the hub as the sink of one output stream of run r.
func (h *hub) writer(r *run, stream string) io.Writer { return hubWriter{h, r, stream} }

type hubWriter struct {
	h      *hub
	r      *run
	stream string
}

func (w hubWriter) Write(p []byte) (int, error) {
	w.h.write(w.r, w.stream, p)
	return len(p), nil
}

// closeAll ends every attachment: the run is over and all output was written.
func (h *hub) closeAll() {
	h.mu.Lock()
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	for a := range subs {
		a.close()
	}
}
