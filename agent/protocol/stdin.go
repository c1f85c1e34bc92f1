package protocol

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/hashicorp/yamux"
)

// MaxStdinHeld bounds the stdin bytes of one process that the sender holds
// for resending: what the agent has not acked yet. Beyond it the sender stops
// reading its source, so a process that does not read its stdin slows the
// client instead of filling memory.
const MaxStdinHeld = 4 << 20

// StdinFeed is the sending side of one process's stdin (the backend, or a
// test standing in for it), across connections. It reads its source into a
// buffer and holds every byte until the agent acks it (MsgAck with the
// stream key "<id>/stdin", or the Offsets of a hello): a connection that
// drops loses nothing, since the stream reopened on the next connection
// starts at the first byte not acked, with its stream offset in the header,
// and the agent skips what it had already delivered. The source's end is sent
// as the end of the stream (FIN), again after a drop until the process is
// gone.
//
// An ack can pass what the current stream has sent: after a drop the agent
// goes on delivering what it had received over the old connection, beyond
// the count in its hello, and acks it over the new one. The stream must stay
// contiguous (the agent skips by count), so a byte is forgotten only once it
// is acked and the current stream has sent it too.
type StdinFeed struct {
	id string

	mu    sync.Mutex
	cond  *sync.Cond
	data  []byte // stream bytes [base, base+len(data))
	base  int64
	acked int64 // the most the agent reported delivered
	sent  int64 // how far the current connection's stream has sent
	eof   bool  // the source ended
	done  bool  // the process is gone: nothing more to send
	gen   int   // bumped by Attach: senders of earlier connections stop
	sess  *yamux.Session
}

// NewStdinFeed starts reading src for process id (the main process is "").
func NewStdinFeed(id string, src io.Reader) *StdinFeed {
	f := &StdinFeed{id: id}
	f.cond = sync.NewCond(&f.mu)
	go f.pump(src)
	return f
}

// Key is the feed's stream key, as in acks and hello offsets.
func (f *StdinFeed) Key() string { return StreamKey(f.id, StreamStdin) }

func (f *StdinFeed) pump(src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !f.hold(buf[:n]) {
			return
		}
		if err != nil {
			f.mu.Lock()
			f.eof = true
			f.cond.Broadcast()
			f.mu.Unlock()
			return
		}
	}
}

// hold appends p, waiting while MaxStdinHeld bytes are not acked. False when
// the feed is over.
func (f *StdinFeed) hold(p []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.data) > 0 && len(f.data)+len(p) > MaxStdinHeld && !f.done {
		f.cond.Wait()
	}
	if f.done {
		return false
	}
	f.data = append(f.data, p...)
	f.cond.Broadcast()
	return true
}

// Ack records that the agent delivered the bytes before off to the process;
// they are forgotten once the current stream has sent them too.
func (f *StdinFeed) Ack(off int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = max(f.acked, off)
	f.trim()
}

// trim forgets the bytes both acked and sent on the current stream; a stream
// that jumped over bytes it had not sent would shift the rest.
func (f *StdinFeed) trim() {
	end := min(f.acked, f.sent)
	if n := end - f.base; n > 0 && n <= int64(len(f.data)) {
		f.data = f.data[n:]
		f.base = end
		if len(f.data) == 0 {
			f.data = nil
		}
		f.cond.Broadcast()
	}
}

// Held is how many bytes are held, not acked (or not sent) yet.
func (f *StdinFeed) Held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.data)
}

// Stop ends the feed: the process is gone. The source is no longer read.
func (f *StdinFeed) Stop() {
	f.mu.Lock()
	f.done = true
	f.data = nil
	f.cond.Broadcast()
	f.mu.Unlock()
}

// Attach opens the feed's stream on a new connection and sends from the first
// byte not acked; delivered is what the agent reported in its hello (0 when
// unknown). Senders on earlier connections stop. Attaching again to the
// connection the feed is on does nothing.
func (f *StdinFeed) Attach(sess *yamux.Session, delivered int64) {
	f.mu.Lock()
	f.acked = max(f.acked, delivered)
	if f.done || f.sess == sess {
		f.trim()
		f.mu.Unlock()
		return
	}
	f.sess = sess
	f.gen++
	// The new stream starts at the first byte not acked; the earlier
	// stream's sender is stopped, so it holds back nothing before that.
	f.sent = min(max(f.acked, f.base), f.base+int64(len(f.data)))
	f.trim()
	gen, off := f.gen, f.sent
	f.mu.Unlock()
	st, err := OpenStream(sess, StreamHeader{Kind: StreamStdin, ID: f.id, Offset: off})
	if err != nil {
		return
	}
	go func() {
		<-sess.CloseChan()
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	}()
	go f.send(sess, st, gen, off)
}

func (f *StdinFeed) send(sess *yamux.Session, st *yamux.Stream, gen int, off int64) {
	buf := make([]byte, 32<<10)
	for {
		f.mu.Lock()
		for {
			if f.done || f.gen != gen || sess.IsClosed() {
				f.mu.Unlock()
				return // no FIN: the stream did not end, the connection did
			}
			if off < f.base {
				return // trimmed past what this stream sent: cannot happen
			}
			if i := off - f.base; i < int64(len(f.data)) || f.eof {
				break
			}
			f.cond.Wait()
		}
		i := off - f.base
		if i >= int64(len(f.data)) { // f.eof: everything sent
			f.mu.Unlock()
			_ = st.Close()
			return
		}
		n := copy(buf, f.data[i:])
		f.mu.Unlock()
		if _, err := st.Write(buf[:n]); err != nil {
			return // the next connection resends from the agent's count
		}
		off += int64(n)
		f.mu.Lock()
		if f.gen == gen {
			f.sent = off
			f.trim()
		}
		f.mu.Unlock()
	}
}

// OpenStream opens a stream on sess and writes its header h.
func OpenStream(sess *yamux.Session, h StreamHeader) (*yamux.Stream, error) {
	st, err := sess.OpenStream()
	if err != nil {
		return nil, err
	}
	hdr, _ := json.Marshal(h)
	if _, err := st.Write(append(hdr, '\n')); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}
