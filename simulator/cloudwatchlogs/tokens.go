package cloudwatchlogs

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// evKey orders a stream's events: by timestamp, then by arrival. It is the
// bbolt key (16 bytes, big-endian), so a cursor walks events in the order
// GetLogEvents returns them and startTime is a Seek.
type evKey struct{ TS, Seq uint64 }

var maxKey = evKey{math.MaxUint64, math.MaxUint64}

func (k evKey) bytes() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], k.TS)
	binary.BigEndian.PutUint64(b[8:], k.Seq)
	return b
}

func keyFrom(b []byte) evKey {
	return evKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])}
}

func (k evKey) less(o evKey) bool { return k.TS < o.TS || (k.TS == o.TS && k.Seq < o.Seq) }

func (k evKey) next() evKey {
	if k.Seq == math.MaxUint64 {
		return evKey{k.TS + 1, 0}
	}
	return evKey{k.TS, k.Seq + 1}
}

func (k evKey) prev() evKey {
	switch {
	case k.Seq > 0:
		return evKey{k.TS, k.Seq - 1}
	case k.TS > 0:
		return evKey{k.TS - 1, math.MaxUint64}
	}
	return k
}

// tsKey is the first key at or after timestamp ms (negative clamps to 0).
func tsKey(ms int64) evKey {
	if ms < 0 {
		return evKey{}
	}
	return evKey{TS: uint64(ms)}
}

// A GetLogEvents token: "f/<56 digits>/s" reads forward after the key,
// "b/<56 digits>/s" backward before it, the shape AWS's tokens have.
type token struct {
	forward bool
	key     evKey
}

var errBadToken = errors.New("the specified nextToken is invalid")

func (t token) String() string {
	d := "b"
	if t.forward {
		d = "f"
	}
	return fmt.Sprintf("%s/%016d%020d%020d/s", d, 0, t.key.TS, t.key.Seq)
}

func parseToken(s string) (token, error) {
	var t token
	switch {
	case strings.HasPrefix(s, "f/"):
		t.forward = true
	case strings.HasPrefix(s, "b/"):
	default:
		return t, errBadToken
	}
	digits := strings.TrimSuffix(s[2:], "/s")
	if len(digits) != 56 || strings.Trim(digits[:16], "0") != "" {
		return t, errBadToken
	}
	ts, err1 := strconv.ParseUint(digits[16:36], 10, 64)
	seq, err2 := strconv.ParseUint(digits[36:], 10, 64)
	if err1 != nil || err2 != nil {
		return t, errBadToken
	}
	t.key = evKey{ts, seq}
	return t, nil
}

// filterPos is where a FilterLogEvents page ended: events across streams
// are ordered by (timestamp, stream id, seq).
type filterPos struct {
	TS, Stream, Seq uint64
}

func (p filterPos) less(o filterPos) bool {
	if p.TS != o.TS {
		return p.TS < o.TS
	}
	if p.Stream != o.Stream {
		return p.Stream < o.Stream
	}
	return p.Seq < o.Seq
}

func (p filterPos) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d/%d/%d", p.TS, p.Stream, p.Seq)))
}

func parseFilterPos(s string) (filterPos, error) {
	var p filterPos
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return p, errBadToken
	}
	if _, err := fmt.Sscanf(string(raw), "%d/%d/%d", &p.TS, &p.Stream, &p.Seq); err != nil {
		return p, errBadToken
	}
	return p, nil
}

// pageToken is the opaque nextToken of the Describe operations: the last
// name returned (and, ordering by LastEventTime, its time).
func pageToken(name string, t int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t, 10) + "/" + name))
}

func parsePageToken(s string) (string, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", 0, errBadToken
	}
	ts, name, ok := strings.Cut(string(raw), "/")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil {
		return "", 0, errBadToken
	}
	return name, t, nil
}
