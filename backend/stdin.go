package backend

import (
	"io"
	"strings"

	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// stdinFeed carries one process's stdin (the main process's, or an exec's)
// from the client to the agent, across connections (protocol.StdinFeed): the
// client's bytes are held until the agent acks them, at most
// protocol.MaxStdinHeld, after which the client is no longer read
// (backpressure); after a drop the stream is reopened on the next connection
// from the agent's count, so no byte is lost or delivered twice. The client's
// EOF ends the stream, which is EOF for the process.
type stdinFeed struct {
	*protocol.StdinFeed
}

// stdinFeed returns process id's feed, starting it on src the first time.
func (r *run) stdinFeed(id string, src io.Reader) *stdinFeed {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.feeds[id]
	if f == nil {
		f = &stdinFeed{protocol.NewStdinFeed(id, src)}
		r.feeds[id] = f
	}
	return f
}

// attach opens the feed's stream on a new connection, from the first byte
// the agent has not acked.
func (f *stdinFeed) attach(sess *yamux.Session) { f.Attach(sess, 0) }

// stop ends the feed: the process is gone.
func (f *stdinFeed) stop() { f.Stop() }

// resumeStdin attaches every feed of r to a new connection, from what the
// agent's hello says it delivered.
func (r *run) resumeStdin(sess *yamux.Session, delivered map[string]int64) {
	r.mu.Lock()
	feeds := make([]*stdinFeed, 0, len(r.feeds))
	for _, f := range r.feeds {
		feeds = append(feeds, f)
	}
	r.mu.Unlock()
	for _, f := range feeds {
		f.Attach(sess, delivered[f.Key()])
	}
}

// stdinAck applies the agent's ack of a stdin stream; false when m is not one.
func (r *run) stdinAck(m protocol.Message) bool {
	id, ok := strings.CutSuffix(m.Stream, "/"+protocol.StreamStdin)
	if !ok {
		return false
	}
	r.mu.Lock()
	f := r.feeds[id]
	r.mu.Unlock()
	if f != nil {
		f.Ack(m.Offset)
	}
	return true
}
