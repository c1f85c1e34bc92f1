package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand"
	"net"
	"testing"

	"github.com/hashicorp/yamux"
)

// pair is a yamux connection: the feed opens streams on feed, the agent's
// side accepts them on agent.
func pair(t *testing.T) (feed, agent *yamux.Session) {
	t.Helper()
	a, b := net.Pipe()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	feed, err := yamux.Client(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	agent, err = yamux.Server(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feed.Close(); agent.Close() })
	return feed, agent
}

func acceptStdin(t *testing.T, sess *yamux.Session) (StreamHeader, *bufio.Reader) {
	t.Helper()
	st, err := sess.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(st)
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var h StreamHeader
	if err := json.Unmarshal(line, &h); err != nil {
		t.Fatal(err)
	}
	return h, br
}

// After a drop the agent goes on delivering what it had received over the
// old connection, past the count in its hello, and acks that over the new
// connection while the new stream is still behind it. The new stream must
// stay contiguous from its header's offset: the agent skips by count.
func TestStdinFeedAckPastNewStreamKeepsItContiguous(t *testing.T) {
	data := make([]byte, 1<<20) // all held: less than MaxStdinHeld
	_, _ = rand.New(rand.NewSource(1)).Read(data)
	f := NewStdinFeed("", bytes.NewReader(data))
	defer f.Stop()

	feed1, agent1 := pair(t)
	f.Attach(feed1, 0)
	h, r := acceptStdin(t, agent1)
	if h.Offset != 0 {
		t.Fatalf("first stream at %d", h.Offset)
	}
	const hello, later = 64 << 10, 512 << 10
	got := make([]byte, later) // received over the first connection
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	feed1.Close() // the drop

	// The hello says 64 KiB were delivered; the agent then delivers the
	// rest of what it received and acks 512 KiB. The new stream cannot have
	// sent that much yet: the peer has not read it, and yamux's first window
	// is 256 KiB.
	feed2, agent2 := pair(t)
	f.Attach(feed2, hello)
	h, r = acceptStdin(t, agent2)
	if h.Offset != hello {
		t.Fatalf("second stream at %d, want %d", h.Offset, hello)
	}
	f.Ack(later)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(data)) - h.Offset; int64(len(rest)) != want {
		t.Fatalf("second stream has %d bytes, want %d (from %d to the end)", len(rest), want, h.Offset)
	}
	// As the agent does: skip what was delivered already.
	got = append(got, rest[later-h.Offset:]...)
	if !bytes.Equal(got, data) {
		t.Fatal("the stdin delivered differs from the source")
	}
	if n := f.Held(); n != len(data)-later {
		t.Errorf("held %d bytes, want %d (sent, not acked past %d)", n, len(data)-later, later)
	}
}
