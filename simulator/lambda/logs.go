package lambda

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

const (
	// batchWindow is how long lines gather before one Append: brief, so
	// CloudWatch shows output live.
	batchWindow = 15 * time.Millisecond
	// batchMax flushes at once when this many events wait.
	batchMax = 1000
	// settleQuiet: the engine delivers a container's output a few ms after
	// it is written. Output is taken as complete once nothing arrived for this long.
	settleQuiet = 25 * time.Millisecond
	// settleMax bounds that wait for a runtime that never stops writing.
	settleMax = 300 * time.Millisecond
	// maxEventBytes is CloudWatch's event size limit; longer lines are split.
	maxEventBytes = 256 * 1024
	// tailBytes is how much of an invocation's log LogType Tail returns.
	tailBytes = 4096
)

// logSink writes one environment's log stream: the runtime's output, line by
// line with the time each line was written, and the platform's
// START/END/REPORT lines, in order.
type logSink struct {
	logs          Logs
	group, stream string

	mu      sync.Mutex
	pending []LogEvent
	capture *bytes.Buffer // the current invocation's log, for LogType Tail

	flushMu    sync.Mutex // keeps Appends in order
	kick       chan struct{}
	stop       chan struct{}
	stopped    chan struct{}
	closeOnce  sync.Once
	lastRead   atomic.Int64  // unix nanos of the last output from the engine
	followDone chan struct{} // closed when the container's output has ended
}

func newLogSink(logs Logs, group, stream string) *logSink {
	s := &logSink{
		logs: logs, group: group, stream: stream,
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
		followDone: make(chan struct{}),
	}
	go s.flusher()
	return s
}

func (s *logSink) add(ts time.Time, msg string) {
	s.mu.Lock()
	s.pending = append(s.pending, LogEvent{Timestamp: ts.UnixMilli(), Message: msg})
	if s.capture != nil {
		s.capture.WriteString(msg)
		if s.capture.Len() > 2*tailBytes {
			keep := s.capture.Bytes()[s.capture.Len()-tailBytes:]
			s.capture = bytes.NewBuffer(append([]byte(nil), keep...))
		}
	}
	n := len(s.pending)
	s.mu.Unlock()
	if n == 1 || n >= batchMax {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// platform writes a line of Lambda's own, stamped now.
func (s *logSink) platform(msg string) { s.add(time.Now(), msg) }

func (s *logSink) flusher() {
	defer close(s.stopped)
	for {
		select {
		case <-s.kick:
		case <-s.stop:
			s.flush()
			return
		}
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n < batchMax {
			select {
			case <-time.After(batchWindow):
			case <-s.stop:
			}
		}
		s.flush()
	}
}

// flush appends what is pending now.
func (s *logSink) flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), 10000) // PutLogEvents' batch limit
		if err := s.logs.Append(s.group, s.stream, batch[:n]); err != nil {
			slog.Warn("lambda: append to log stream", "group", s.group, "stream", s.stream, "events", n, "err", err)
		}
		batch = batch[n:]
	}
}

// beginCapture starts collecting the invocation's log when Tail is asked for.
func (s *logSink) beginCapture(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capture = nil
	if on {
		s.capture = &bytes.Buffer{}
	}
}

// endCapture returns the last 4 KB of the invocation's log.
func (s *logSink) endCapture() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.capture == nil {
		return nil
	}
	b := s.capture.Bytes()
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	s.capture = nil
	return append([]byte(nil), b...)
}

// settle waits until the engine has delivered what the runtime wrote so
// far, so that platform lines follow the output they close.
func (s *logSink) settle() {
	start := time.Now()
	for {
		select {
		case <-s.followDone:
			return
		default:
		}
		now := time.Now()
		last := time.Unix(0, s.lastRead.Load())
		if now.Sub(start) >= settleQuiet && now.Sub(last) >= settleQuiet || now.Sub(start) >= settleMax {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drain waits for the container's output to end (it has stopped) and stores
// everything pending.
func (s *logSink) drain(max time.Duration) {
	select {
	case <-s.followDone:
	case <-time.After(max):
		slog.Warn("lambda: container output did not end", "group", s.group, "stream", s.stream)
	}
	s.flush()
}

// close stops the flusher after a last flush.
func (s *logSink) close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.stopped
}

// followLogs copies the container's stdout and stderr into the stream as
// they are written, until the container stops.
func (e *environment) followLogs() {
	defer close(e.out.followDone)
	rc, err := e.svc.docker.client.ContainerLogs(context.Background(), e.id, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true,
	})
	if err != nil {
		slog.Warn("lambda: follow container output", "container", e.name, "err", err)
		return
	}
	defer rc.Close()
	stdout, stderr := &lineWriter{sink: e.out}, &lineWriter{sink: e.out}
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil {
		slog.Debug("lambda: container output ended", "container", e.name, "err", err)
	}
	stdout.end()
	stderr.end()
}

// lineWriter turns the engine's log frames into one event per line. Each
// Write is one frame: "<RFC3339Nano timestamp> <text>", the text ending in
// "\n" unless the engine split a long line into parts.
type lineWriter struct {
	sink *logSink
	buf  []byte
	ts   time.Time
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.sink.lastRead.Store(time.Now().UnixNano())
	n := len(p)
	ts := time.Now()
	if i := bytes.IndexByte(p, ' '); i > 0 {
		if t, err := time.Parse(time.RFC3339Nano, string(p[:i])); err == nil {
			ts, p = t, p[i+1:]
		}
	}
	if len(l.buf) == 0 {
		l.ts = ts
	}
	l.buf = append(l.buf, p...)
	for len(l.buf) >= maxEventBytes {
		l.emit(l.buf[:maxEventBytes])
		l.buf = l.buf[maxEventBytes:]
		l.ts = ts
	}
	if len(l.buf) > 0 && l.buf[len(l.buf)-1] == '\n' {
		l.emit(l.buf)
		l.buf = l.buf[:0]
	}
	return n, nil
}

func (l *lineWriter) emit(b []byte) {
	l.sink.add(l.ts, string(b))
}

// end stores a last line that had no newline.
func (l *lineWriter) end() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}
