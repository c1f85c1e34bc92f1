package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// maxHeaderLine bounds a stream's header line.
const maxHeaderLine = 4096

// openStream opens a yamux stream and writes its header line.
func openStream(session *yamux.Session, kind, id string, offset int64) (*yamux.Stream, error) {
	st, err := session.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open %s stream: %w", kind, err)
	}
	hdr, err := json.Marshal(protocol.StreamHeader{Kind: kind, ID: id, Offset: offset})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("encode %s stream header: %w", kind, err)
	}
	if _, err := st.Write(append(hdr, '\n')); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("write %s stream header: %w", kind, err)
	}
	return st, nil
}

// readStreamHeader reads the header line of a stream the backend opened. It
// reads byte by byte so that not one byte of the raw data after it is taken.
func readStreamHeader(c net.Conn) (protocol.StreamHeader, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, b); err != nil {
			return protocol.StreamHeader{}, fmt.Errorf("read stream header: %w", err)
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
		if len(line) > maxHeaderLine {
			return protocol.StreamHeader{}, errors.New("read stream header: line too long")
		}
	}
	var h protocol.StreamHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return protocol.StreamHeader{}, fmt.Errorf("decode stream header: %w", err)
	}
	return h, nil
}

// control is the control stream: JSON lines both ways.
type control struct {
	st  *yamux.Stream
	wmu sync.Mutex
	enc *json.Encoder
}

func openControl(session *yamux.Session) (*control, error) {
	st, err := openStream(session, protocol.StreamControl, "", 0)
	if err != nil {
		return nil, err
	}
	return &control{st: st, enc: json.NewEncoder(st)}, nil
}

// send writes one message; Encode appends the newline.
func (c *control) send(m protocol.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// readLoop calls handle for each message until the stream ends. A line that
// does not decode is reported and skipped: one bad message must not cut the
// container off from stop and kill.
func (c *control) readLoop(handle func(protocol.Message), diag func(string, ...any)) error {
	sc := bufio.NewScanner(c.st)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var m protocol.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			diag("control: skipping undecodable message: %v", err)
			continue
		}
		handle(m)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return io.EOF
}
