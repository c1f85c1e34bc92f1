package backend

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// docker logs -f follows a running container live: its output comes from the
// agent's connection as it arrives, as for attach, instead of waiting for
// CloudWatch. CloudWatch still gives the history, and fills what the live
// feed cannot (a follower that fell behind, an agent not connected). Both
// sources say where their bytes sit in the run's output (a byte offset per
// stream), so nothing is written twice and nothing is skipped.

// followerBuffer bounds what a follower holds for a slow client; beyond it,
// live chunks are dropped and CloudWatch fills the gap, so a slow reader of
// docker logs -f never slows the container.
const followerBuffer = 4 << 20

// liveChunk is one piece of a run's output as the backend received it.
type liveChunk struct {
	stream string
	off    int64 // where data starts in the run's stream
	data   []byte
	at     time.Time
}

// follower receives a run's live output for one docker logs -f.
type follower struct {
	run    *run
	mu     sync.Mutex
	chunks []liveChunk
	size   int
	notify chan struct{} // signalled when chunks arrive
}

func newFollower(r *run) *follower { return &follower{run: r, notify: make(chan struct{}, 1)} }

// deliver queues a chunk without blocking; a full buffer drops it.
func (f *follower) deliver(c liveChunk) {
	f.mu.Lock()
	if f.size+len(c.data) <= followerBuffer {
		f.chunks = append(f.chunks, c)
		f.size += len(c.data)
	}
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *follower) take() []liveChunk {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.chunks
	f.chunks, f.size = nil, 0
	return out
}

// cursor writes a run's output once, in order per stream, from either
// source: emitted is how much of each stream has been written (or skipped),
// known how much exists (so a shortfall is a gap only CloudWatch can fill),
// pending holds live chunks that came after a gap.
type cursor struct {
	w       *logWriter
	run     *run
	emitted map[string]int64 // by stream
	known   map[string]int64 // by stream
	cw      map[string]int64 // how much of each stream CloudWatch has given
	pending []liveChunk
}

func newCursor(w *logWriter, r *run, known map[string]int64) *cursor {
	return &cursor{w: w, run: r, emitted: map[string]int64{}, known: known, cw: map[string]int64{}}
}

// ours reports whether a CloudWatch line is of the run: its request ID (known
// once Invoke has answered) names the run's lines.
func (c *cursor) ours(l logLine) bool {
	c.run.mu.Lock()
	id := c.run.requestID
	c.run.mu.Unlock()
	return id != "" && l.request == id
}

// learn raises what is known to exist of each stream.
func (c *cursor) learn(sizes map[string]int64) {
	for k, v := range sizes {
		c.known[k] = max(c.known[k], v)
	}
}

// put writes the part of data, n bytes at off in stream, not written yet (n
// differs from len(data) only for a CloudWatch line whose bytes were not
// UTF-8). A part beyond a gap is not written: false. With show false the
// bytes are only counted as done (cut by --tail).
func (c *cursor) put(stream string, off int64, data []byte, n int, at time.Time, show bool) (bool, error) {
	done := c.emitted[stream]
	if off > done {
		return false, nil
	}
	if end := off + int64(n); end > done {
		c.emitted[stream] = end
		if show {
			return true, c.w.write(stream, data[min(done-off, int64(len(data))):], at)
		}
	}
	return true, nil
}

// fromCloudWatch takes one of the run's lines from CloudWatch.
func (c *cursor) fromCloudWatch(l logLine, show bool) error {
	off, n := c.cw[l.Stream], len(l.Log)
	if l.Off != nil {
		off = *l.Off
	}
	if l.N != nil {
		n = *l.N
	}
	c.cw[l.Stream] = off + int64(n)
	if _, err := c.put(l.Stream, off, []byte(l.Log), n, l.Time, show); err != nil {
		return err
	}
	return c.flushPending()
}

// live takes chunks from the agent's connection; those after a gap wait.
func (c *cursor) live(chunks []liveChunk) error {
	for _, ch := range chunks {
		c.known[ch.stream] = max(c.known[ch.stream], ch.off+int64(len(ch.data)))
	}
	c.pending = append(c.pending, chunks...)
	return c.flushPending()
}

func (c *cursor) flushPending() error {
	sort.SliceStable(c.pending, func(i, j int) bool { return c.pending[i].off < c.pending[j].off })
	kept := c.pending[:0]
	size := 0
	for _, ch := range c.pending {
		ok, err := c.put(ch.stream, ch.off, ch.data, len(ch.data), ch.at, true)
		if err != nil {
			return err
		}
		if !ok && size+len(ch.data) <= followerBuffer {
			kept = append(kept, ch)
			size += len(ch.data)
		}
	}
	c.pending = kept
	return nil
}

// gap reports whether output is known that only CloudWatch can give: live
// chunks wait behind a hole, or bytes that came before the follower did (or
// that a full buffer dropped) have not been written.
func (c *cursor) gap() bool {
	if len(c.pending) > 0 {
		return true
	}
	for k, v := range c.known {
		if c.emitted[k] < v {
			return true
		}
	}
	return false
}

// fill writes the run's lines among lines; the others are another run's.
func (c *cursor) fill(lines []logLine) error {
	for _, l := range lines {
		if c.ours(l) {
			if err := c.fromCloudWatch(l, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// followLive writes the run's output as it comes, until the run ends (when
// all its output has been received) or the client leaves.
func (b *Backend) followLive(ctx context.Context, lr *logReader, r *run, f *follower, cur *cursor, fl http.Flusher) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if cur.live(f.take()) != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.done:
			// Every byte the agent sent is in; what the live feed dropped,
			// or never carried, CloudWatch has (the exit record comes last).
			if cur.live(f.take()) != nil {
				return
			}
			cur.learn(r.delivered())
			if cur.gap() || !r.everConnected() {
				lines, err := b.awaitExitRecord(ctx, lr, r.container, b.store.Snap(r.container), nil)
				if err != nil {
					slog.Warn("docker logs -f: the last lines from CloudWatch", "container", r.container.ID[:12], "err", err)
				}
				if cur.fill(lines) != nil {
					return
				}
			}
			fl.Flush()
			return
		case <-ctx.Done():
			return
		case <-f.notify:
		case <-tick.C:
			// CloudWatch only when live output cannot do: a gap to fill, or
			// no agent connected. Its GetLogEvents quota is shared by the
			// account (25 a second); a refusal is retried at the next tick.
			if !cur.gap() && r.live() {
				continue
			}
			lines, err := lr.next(ctx, b.store.Snap(r.container).LogStreams)
			if err != nil {
				slog.Warn("docker logs -f: reading CloudWatch", "container", r.container.ID[:12], "err", err)
				continue
			}
			if cur.fill(lines) != nil {
				return
			}
		}
	}
}

// live reports whether the run's agent is connected now.
func (r *run) live() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.session != nil && !r.session.IsClosed()
}

// everConnected reports whether the run's agent ever said hello.
func (r *run) everConnected() bool {
	select {
	case <-r.connected:
		return true
	default:
		return false
	}
}
