package backend

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// run is one start of a container: one Lambda invocation and the agent
// connection that belongs to it.
type run struct {
	container *Container
	token     string
	inv       protocol.Invocation

	mu        sync.Mutex
	session   *yamux.Session
	control   *json.Encoder // writes to the control stream, under mu
	requestID string
	logStream string

	connected chan struct{} // closed when the agent said hello
	done      chan struct{} // closed when the run has ended and its exit is recorded
	endOnce   sync.Once
}

func newRun(c *Container, token string, inv protocol.Invocation) *run {
	return &run{container: c, token: token, inv: inv, connected: make(chan struct{}), done: make(chan struct{})}
}

// send writes a control message to the agent, if connected.
func (r *run) send(m protocol.Message) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.control == nil {
		return false
	}
	return r.control.Encode(m) == nil
}

// hub fans the container's live output out to the attached clients. A slow
// client slows the copy from the agent, which slows the process: nothing is
// dropped. A client whose connection fails is detached.
type hub struct {
	mu   sync.Mutex
	subs map[*attachment]struct{}
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

// write copies p to every client attached to stream.
func (h *hub) write(stream string, p []byte) {
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
