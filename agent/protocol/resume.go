package protocol

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// AckEvery is how many bytes of one stream the receiver takes between acks.
// The agent holds at most a few times this per stream for resending.
const AckEvery = 256 << 10

// Inbound is the receiving side of a run's output streams (the backend, or a
// test standing in for it). It counts the bytes of every stream it delivered,
// so that a stream reopened after a drop, starting at an earlier offset,
// delivers each byte exactly once. One Inbound lives as long as the run,
// across connections.
type Inbound struct {
	mu      sync.Mutex
	streams map[string]*inStream
	changed chan struct{} // closed and replaced when any count grows
}

type inStream struct {
	deliver   sync.Mutex // one connection's copy at a time
	delivered int64      // under Inbound.mu
}

// NewInbound returns an Inbound with no streams.
func NewInbound() *Inbound {
	return &Inbound{streams: map[string]*inStream{}, changed: make(chan struct{})}
}

func (in *Inbound) stream(key string) *inStream {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.streams[key]
	if s == nil {
		s = &inStream{}
		in.streams[key] = s
	}
	return s
}

// Offsets is what the receiver has delivered of each stream, for MsgWelcome.
func (in *Inbound) Offsets() map[string]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int64, len(in.streams))
	for k, s := range in.streams {
		out[k] = s.delivered
	}
	return out
}

// Delivered is how much of stream key was delivered.
func (in *Inbound) Delivered(key string) int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if s := in.streams[key]; s != nil {
		return s.delivered
	}
	return 0
}

// Forget drops the counts of process id's streams once its exit is acked.
func (in *Inbound) Forget(id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, kind := range []string{StreamStdout, StreamStderr} {
		delete(in.streams, StreamKey(id, kind))
	}
}

// Receive copies one output stream, whose header is h, from r to sink,
// skipping the bytes already delivered over an earlier connection. ack is
// called every AckEvery bytes and at the end with the delivered offset. A
// sink that fails is replaced by io.Discard: the stream is still consumed so
// the process is not blocked by a client that left. It returns nil at a clean
// end of the stream.
func (in *Inbound) Receive(h StreamHeader, r io.Reader, sink io.Writer, ack func(key string, offset int64)) error {
	key := StreamKey(h.ID, h.Kind)
	s := in.stream(key)
	s.deliver.Lock()
	defer s.deliver.Unlock()
	in.mu.Lock()
	done := s.delivered
	in.mu.Unlock()
	if h.Offset > done {
		return fmt.Errorf("stream %s resumes at %d but only %d bytes were received", key, h.Offset, done)
	}
	if skip := done - h.Offset; skip > 0 {
		if _, err := io.CopyN(io.Discard, r, skip); err != nil {
			return fmt.Errorf("stream %s: skip %d bytes already received: %w", key, skip, err)
		}
	}
	buf := make([]byte, 32<<10)
	var sinceAck int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := sink.Write(buf[:n]); werr != nil {
				sink = io.Discard
			}
			in.mu.Lock()
			s.delivered += int64(n)
			done = s.delivered
			close(in.changed)
			in.changed = make(chan struct{})
			in.mu.Unlock()
			sinceAck += int64(n)
			if sinceAck >= AckEvery {
				ack(key, done)
				sinceAck = 0
			}
		}
		if err != nil {
			ack(key, done)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("stream %s: %w", key, err)
		}
	}
}

// WaitSizes waits until process id's streams have delivered sizes (by kind),
// at most d or until cancel is closed. It reports whether they did.
func (in *Inbound) WaitSizes(id string, sizes map[string]int64, d time.Duration, cancel <-chan struct{}) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		in.mu.Lock()
		ok := true
		for kind, size := range sizes {
			s := in.streams[StreamKey(id, kind)]
			if size > 0 && (s == nil || s.delivered < size) {
				ok = false
			}
		}
		changed := in.changed
		in.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		case <-cancel:
			return false
		}
	}
}
