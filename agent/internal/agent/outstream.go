package agent

import (
	"sync"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// maxUnacked bounds the bytes of one output stream held for resending: what
// the backend has not acked yet. Beyond it the process's writes block
// (backpressure) until the backend catches up or the connection is back.
const maxUnacked = 4 << 20

// outStream is one output stream of a process (stdout or stderr), held from
// the moment the process writes it until the backend acks it, so that a
// dropped connection loses nothing: the stream is reopened at the offset the
// backend reports and the rest is sent again.
type outStream struct {
	id, kind string

	mu      sync.Mutex
	cond    *sync.Cond
	data    []byte // stream bytes [base, base+len(data))
	base    int64
	eof     bool // the process closed its end
	discard bool // the backend is out of reach for good: do not hold bytes
	gen     int  // bumped by wake, so blocked senders look at their connection
}

func newOutStream(id, kind string) *outStream {
	s := &outStream{id: id, kind: kind}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *outStream) key() string { return protocol.StreamKey(s.id, s.kind) }

// Write holds p for the backend, blocking while maxUnacked bytes are held.
func (s *outStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.data) > 0 && len(s.data)+len(p) > maxUnacked && !s.discard {
		s.cond.Wait()
	}
	if s.discard {
		s.base += int64(len(s.data) + len(p))
		s.data = nil
	} else {
		s.data = append(s.data, p...)
	}
	s.cond.Broadcast()
	return len(p), nil
}

// closeWrite marks the end of the stream.
func (s *outStream) closeWrite() {
	s.mu.Lock()
	s.eof = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// size is the stream's length so far.
func (s *outStream) size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + int64(len(s.data))
}

// ack forgets the bytes before off: the backend has them.
func (s *outStream) ack(off int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := off - s.base; n > 0 && n <= int64(len(s.data)) {
		s.data = s.data[n:]
		s.base = off
		if len(s.data) == 0 {
			s.data = nil // let the old array go
		}
		s.cond.Broadcast()
	}
}

// drop stops holding bytes: nobody will ever ask for them again.
func (s *outStream) drop() {
	s.mu.Lock()
	s.discard = true
	s.base += int64(len(s.data))
	s.data = nil
	s.cond.Broadcast()
	s.mu.Unlock()
}

// wake makes blocked readers look at their connection again.
func (s *outStream) wake() {
	s.mu.Lock()
	s.gen++
	s.cond.Broadcast()
	s.mu.Unlock()
}

// startAt is where a resent stream begins: at the backend's offset, or later
// when acks have already moved past it.
func (s *outStream) startAt(off int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(off, s.base)
}

// readAt copies bytes from stream offset off into p, blocking until there are
// some, the stream ended (eof true, n 0), or alive reports false after a wake.
func (s *outStream) readAt(off int64, p []byte, alive func() bool) (n int, eof bool, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if !alive() || s.discard {
			return 0, false, false
		}
		if off < s.base {
			return 0, false, false // cannot happen: acks never pass what was sent
		}
		if i := off - s.base; i < int64(len(s.data)) {
			return copy(p, s.data[i:]), false, true
		}
		if s.eof {
			return 0, true, true
		}
		s.cond.Wait()
	}
}
