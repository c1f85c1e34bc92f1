package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// DefaultIdleFlush is how long a partial last line waits for more bytes before
// it is written as a LogLine of its own (a prompt, a progress bar), so that
// CloudWatch shows it without waiting for the newline.
const DefaultIdleFlush = 100 * time.Millisecond

// LogWriter writes JSON lines to the agent's stdout, which Lambda sends to
// CloudWatch. stdout and stderr of the process share it, under one mutex, so
// that the order in which the agent read them is the order in the log.
type LogWriter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewLogWriter returns a LogWriter on w.
func NewLogWriter(w io.Writer) *LogWriter {
	return &LogWriter{w: w, now: func() time.Time { return time.Now().UTC() }}
}

func (l *LogWriter) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode log line: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("write log line: %w", err)
	}
	return nil
}

// WriteExit writes the exit record, the last line of a container run.
func (l *LogWriter) WriteExit(info protocol.ExitInfo) error {
	return l.writeJSON(protocol.ExitRecord{Sockerless: protocol.Version, Exit: info})
}

func (l *LogWriter) line(stream string, piece []byte, off int64) {
	ll := protocol.LogLine{Sockerless: protocol.Version, Stream: stream, Log: string(piece), Time: l.now(), Off: &off}
	if !utf8.Valid(piece) {
		n := len(piece)
		ll.N = &n
	}
	// A failing stdout cannot be reported anywhere but stderr; the bytes
	// still reach the backend stream.
	_ = l.writeJSON(ll)
}

// lineSplitter turns one output stream's bytes into LogLines: one per line,
// lines longer than MaxLogLine in pieces, and a partial last line flushed after
// idle or at Close. Cuts never split a UTF-8 sequence, since JSON would turn
// each half into U+FFFD and `docker logs` could no longer reproduce the bytes.
type lineSplitter struct {
	log    *LogWriter
	stream string
	idle   time.Duration

	mu     sync.Mutex
	buf    []byte
	off    int64 // where buf starts in the stream
	timer  *time.Timer
	closed bool
}

// emit logs piece, the next bytes of the stream; under mu.
func (s *lineSplitter) emit(piece []byte) {
	s.log.line(s.stream, piece, s.off)
	s.off += int64(len(piece))
}

// end is the stream's length so far, what is held included.
func (s *lineSplitter) end() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.off + int64(len(s.buf))
}

func newLineSplitter(log *LogWriter, stream string, idle time.Duration) *lineSplitter {
	return &lineSplitter{log: log, stream: stream, idle: idle}
}

// Write never fails: the log is best effort next to the backend stream.
func (s *lineSplitter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return len(p), nil
	}
	s.buf = append(s.buf, p...)
	rest := s.buf
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i >= 0 && i < protocol.MaxLogLine {
			s.emit(rest[:i+1])
			rest = rest[i+1:]
			continue
		}
		if len(rest) <= protocol.MaxLogLine {
			break // wait: the line may still end within the limit
		}
		n := cutAtRune(rest, protocol.MaxLogLine)
		s.emit(rest[:n])
		rest = rest[n:]
	}
	s.buf = append(s.buf[:0], rest...)
	if len(s.buf) > 0 && s.idle > 0 {
		if s.timer == nil {
			s.timer = time.AfterFunc(s.idle, s.idleFlush)
		} else {
			s.timer.Reset(s.idle)
		}
	}
	return len(p), nil
}

func (s *lineSplitter) idleFlush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.buf) == 0 {
		return
	}
	n := len(s.buf) - incompleteRuneSuffix(s.buf)
	if n == 0 {
		return // only the start of a character so far; Close flushes it if nothing follows
	}
	s.emit(s.buf[:n])
	s.buf = append(s.buf[:0], s.buf[n:]...)
}

// Close flushes whatever is left, even an incomplete character.
func (s *lineSplitter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	if len(s.buf) > 0 {
		s.emit(s.buf)
		s.buf = nil
	}
	return nil
}

// cutAtRune returns a cut point <= n that does not fall inside a UTF-8
// sequence, or n itself when the bytes there are not UTF-8 anyway.
func cutAtRune(b []byte, n int) int {
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// incompleteRuneSuffix returns how many trailing bytes of b are the valid
// beginning of a UTF-8 sequence that is not complete yet.
func incompleteRuneSuffix(b []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		c := b[len(b)-k]
		if !utf8.RuneStart(c) {
			continue // continuation byte: look further back for the lead byte
		}
		var need int
		switch {
		case c&0xE0 == 0xC0:
			need = 2
		case c&0xF0 == 0xE0:
			need = 3
		case c&0xF8 == 0xF0:
			need = 4
		default:
			return 0 // ASCII or an invalid lead byte: nothing to wait for
		}
		if need > k {
			return k
		}
		return 0
	}
	return 0
}
