package backend

import (
	"io"
	"sync"

	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// stdinFeed carries one process's stdin (the main process's, or an exec's)
// from the client to the agent, across connections: one goroutine reads the
// client and writes to the stdin stream of the current connection; after a
// drop it writes to the stream opened on the next one. The client's EOF
// closes the stream, which is EOF for the process.
type stdinFeed struct {
	id   string
	mu   sync.Mutex
	cond *sync.Cond
	st   *yamux.Stream
	done bool
}

// stdinFeed returns process id's feed, starting it on src the first time.
func (r *run) stdinFeed(id string, src io.Reader) *stdinFeed {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.feeds[id]
	if f == nil {
		f = &stdinFeed{id: id}
		f.cond = sync.NewCond(&f.mu)
		r.feeds[id] = f
		go f.pump(src)
	}
	return f
}

// attach opens the feed's stream on a new connection.
func (f *stdinFeed) attach(sess *yamux.Session) {
	f.mu.Lock()
	done := f.done
	f.mu.Unlock()
	if done {
		return
	}
	st, err := openStreamOn(sess, protocol.StreamHeader{Kind: protocol.StreamStdin, ID: f.id})
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		st.Close()
		return
	}
	f.st = st
	f.cond.Broadcast()
}

// current waits for a stream; nil when the feed is over.
func (f *stdinFeed) current() *yamux.Stream {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.st == nil && !f.done {
		f.cond.Wait()
	}
	if f.done {
		return nil
	}
	return f.st
}

func (f *stdinFeed) broken(st *yamux.Stream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st == st {
		f.st = nil
	}
}

// stop ends the feed: the process is gone.
func (f *stdinFeed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	f.cond.Broadcast()
}

func (f *stdinFeed) pump(src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for n > 0 {
			st := f.current()
			if st == nil {
				return
			}
			if _, werr := st.Write(buf[:n]); werr != nil {
				f.broken(st)
				continue
			}
			break
		}
		if err != nil {
			if st := f.current(); st != nil {
				st.Close()
			}
			f.stop()
			return
		}
	}
}
