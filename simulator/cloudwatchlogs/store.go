package cloudwatchlogs

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt layout:
//
//	groups/<group>/meta                    groupMeta (JSON)
//	groups/<group>/streams/<stream>/meta   streamMeta (JSON)
//	groups/<group>/streams/<stream>/events evKey → ingestionTime(8) ‖ message
//
// Events never live in the heap: every read is a cursor walk bounded by the
// page it returns.
var (
	bGroups  = []byte("groups")
	bStreams = []byte("streams")
	bEvents  = []byte("events")
	kMeta    = []byte("meta")
)

var (
	errGroupNotFound  = errors.New("log group not found")
	errStreamNotFound = errors.New("log stream not found")
	errGroupExists    = errors.New("log group exists")
	errStreamExists   = errors.New("log stream exists")
)

type groupMeta struct {
	CreationTime    int64             `json:"creationTime"`
	StoredBytes     int64             `json:"storedBytes"`
	RetentionInDays int               `json:"retentionInDays,omitempty"` // 0: events never expire
	Tags            map[string]string `json:"tags,omitempty"`
}

const msPerDay = 24 * 60 * 60 * 1000

// floor is the first key still within the group's retention at now: older
// events are expired, invisible to every read until the sweeper removes them.
func (gm groupMeta) floor(now int64) evKey {
	if gm.RetentionInDays <= 0 {
		return evKey{}
	}
	return tsKey(now - int64(gm.RetentionInDays)*msPerDay)
}

type streamMeta struct {
	ID                  uint64 `json:"id"` // orders streams in FilterLogEvents and names eventIds
	CreationTime        int64  `json:"creationTime"`
	HasEvents           bool   `json:"hasEvents"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp"`
	LastIngestionTime   int64  `json:"lastIngestionTime"`
	StoredBytes         int64  `json:"storedBytes"`
}

type namedGroup struct {
	Name string
	groupMeta
}

type namedStream struct {
	Name string
	streamMeta
}

type event struct {
	key       evKey
	ingestion int64
	message   string
}

type inEvent struct {
	Timestamp int64
	Message   string
}

type store struct{ db *bolt.DB }

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "logs.db")
	// NoSync: a simulator's logs need to survive a process crash (the OS
	// still has the writes), not a power cut; fsync per append would make
	// every line of a chatty container cost milliseconds.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bGroups)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func getJSON(b *bolt.Bucket, v any) error {
	raw := b.Get(kMeta)
	if raw == nil {
		return errors.New("metadata missing")
	}
	return json.Unmarshal(raw, v)
}

func putJSON(b *bolt.Bucket, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(kMeta, raw)
}

func groupBucket(tx *bolt.Tx, group string) *bolt.Bucket {
	return tx.Bucket(bGroups).Bucket([]byte(group))
}

func streamBucket(tx *bolt.Tx, group, stream string) (*bolt.Bucket, *bolt.Bucket, error) {
	gb := groupBucket(tx, group)
	if gb == nil {
		return nil, nil, errGroupNotFound
	}
	sb := gb.Bucket(bStreams).Bucket([]byte(stream))
	if sb == nil {
		return gb, nil, errStreamNotFound
	}
	return gb, sb, nil
}

func createGroupTx(tx *bolt.Tx, group string, meta groupMeta) (*bolt.Bucket, error) {
	gb, err := tx.Bucket(bGroups).CreateBucket([]byte(group))
	if errors.Is(err, bolt.ErrBucketExists) {
		return nil, errGroupExists
	}
	if err != nil {
		return nil, err
	}
	if _, err := gb.CreateBucket(bStreams); err != nil {
		return nil, err
	}
	return gb, putJSON(gb, meta)
}

func createStreamTx(gb *bolt.Bucket, stream string, now int64) (*bolt.Bucket, error) {
	streams := gb.Bucket(bStreams)
	sb, err := streams.CreateBucket([]byte(stream))
	if errors.Is(err, bolt.ErrBucketExists) {
		return nil, errStreamExists
	}
	if err != nil {
		return nil, err
	}
	id, err := streams.NextSequence()
	if err != nil {
		return nil, err
	}
	if _, err := sb.CreateBucket(bEvents); err != nil {
		return nil, err
	}
	return sb, putJSON(sb, streamMeta{ID: id, CreationTime: now})
}

func (s *store) createGroup(group string, meta groupMeta) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, err := createGroupTx(tx, group, meta)
		return err
	})
}

// group returns a group's metadata.
func (s *store) group(group string) (gm groupMeta, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		gb := groupBucket(tx, group)
		if gb == nil {
			return errGroupNotFound
		}
		return getJSON(gb, &gm)
	})
	return gm, err
}

// updateGroup changes a group's metadata in one transaction.
func (s *store) updateGroup(group string, change func(*groupMeta) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		gb := groupBucket(tx, group)
		if gb == nil {
			return errGroupNotFound
		}
		var gm groupMeta
		if err := getJSON(gb, &gm); err != nil {
			return err
		}
		if err := change(&gm); err != nil {
			return err
		}
		return putJSON(gb, gm)
	})
}

func (s *store) deleteGroup(group string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bGroups).DeleteBucket([]byte(group))
		if errors.Is(err, bolt.ErrBucketNotFound) {
			return errGroupNotFound
		}
		return err
	})
}

// groups lists up to limit groups named with prefix, after the name after.
func (s *store) groups(prefix, after string, limit int) (out []namedGroup, more bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bGroups).Cursor()
		start := prefix
		if after > start {
			start = after
		}
		for k, _ := c.Seek([]byte(start)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
			if after != "" && string(k) <= after {
				continue
			}
			if len(out) == limit {
				more = true
				return nil
			}
			g := namedGroup{Name: string(k)}
			if err := getJSON(tx.Bucket(bGroups).Bucket(k), &g.groupMeta); err != nil {
				return fmt.Errorf("group %s: %w", k, err)
			}
			out = append(out, g)
		}
		return nil
	})
	return out, more, err
}

func (s *store) createStream(group, stream string, now int64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		gb := groupBucket(tx, group)
		if gb == nil {
			return errGroupNotFound
		}
		_, err := createStreamTx(gb, stream, now)
		return err
	})
}

func (s *store) deleteStream(group, stream string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		gb, sb, err := streamBucket(tx, group, stream)
		if err != nil {
			return err
		}
		sm, gm, err := loadMeta(gb, sb)
		if err != nil {
			return err
		}
		gm.StoredBytes -= sm.StoredBytes
		if err := putJSON(gb, gm); err != nil {
			return err
		}
		return gb.Bucket(bStreams).DeleteBucket([]byte(stream))
	})
}

// streams returns the metadata of a group's streams named with prefix. It
// is small (no events), so DescribeLogStreams sorts it in memory.
func (s *store) streams(group, prefix string) (out []namedStream, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		gb := groupBucket(tx, group)
		if gb == nil {
			return errGroupNotFound
		}
		c := gb.Bucket(bStreams).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if v != nil { // not a bucket
				continue
			}
			st := namedStream{Name: string(k)}
			if err := getJSON(gb.Bucket(bStreams).Bucket(k), &st.streamMeta); err != nil {
				return fmt.Errorf("stream %s: %w", k, err)
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// appendEvents stores events in one transaction. create makes a missing
// group and stream; monotonic stores an event dated before the stream's
// last event at that last timestamp, so that a reader following the
// stream with forward tokens never misses a line written concurrently.
func (s *store) appendEvents(group, stream string, events []inEvent, now int64, create, monotonic bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		gb, sb, err := streamBucket(tx, group, stream)
		if create && errors.Is(err, errGroupNotFound) {
			if gb, err = createGroupTx(tx, group, groupMeta{CreationTime: now}); err != nil {
				return err
			}
			err = errStreamNotFound
		}
		if create && errors.Is(err, errStreamNotFound) {
			sb, err = createStreamTx(gb, stream, now)
		}
		if err != nil {
			return err
		}
		sm, gm, err := loadMeta(gb, sb)
		if err != nil {
			return err
		}
		eb := sb.Bucket(bEvents)
		eb.FillPercent = 0.9 // keys mostly arrive in order: pack pages
		for _, e := range events {
			ts := max(e.Timestamp, 0)
			if monotonic && sm.HasEvents && ts < sm.LastEventTimestamp {
				ts = sm.LastEventTimestamp
			}
			seq, err := eb.NextSequence()
			if err != nil {
				return err
			}
			val := make([]byte, 8+len(e.Message))
			binary.BigEndian.PutUint64(val, uint64(now))
			copy(val[8:], e.Message)
			if err := eb.Put(evKey{uint64(ts), seq}.bytes(), val); err != nil {
				return err
			}
			if !sm.HasEvents || ts < sm.FirstEventTimestamp {
				sm.FirstEventTimestamp = ts
			}
			if !sm.HasEvents || ts > sm.LastEventTimestamp {
				sm.LastEventTimestamp = ts
			}
			sm.HasEvents = true
			sm.StoredBytes += int64(len(e.Message))
			gm.StoredBytes += int64(len(e.Message))
		}
		if len(events) > 0 {
			sm.LastIngestionTime = now
		}
		if err := putJSON(sb, sm); err != nil {
			return err
		}
		return putJSON(gb, gm)
	})
}

// readEvents returns up to limit events (and at most maxBytes, counted as
// CloudWatch does) with keys in [lo, hi) and within the group's retention at
// now, in ascending order: the first ones when forward, else the last ones.
func (s *store) readEvents(group, stream string, lo, hi evKey, now int64, forward bool, limit, maxBytes int) (out []event, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		gb, sb, err := streamBucket(tx, group, stream)
		if err != nil {
			return err
		}
		var gm groupMeta
		if err := getJSON(gb, &gm); err != nil {
			return err
		}
		if f := gm.floor(now); lo.less(f) {
			lo = f
		}
		if !lo.less(hi) {
			return nil
		}
		c := sb.Bucket(bEvents).Cursor()
		size := 0
		take := func(k, v []byte) bool {
			size += len(v) - 8 + 26
			if len(out) == limit || (len(out) > 0 && size > maxBytes) {
				return false
			}
			out = append(out, event{key: keyFrom(k), ingestion: int64(binary.BigEndian.Uint64(v)), message: string(v[8:])})
			return true
		}
		if forward {
			for k, v := c.Seek(lo.bytes()); k != nil && keyFrom(k).less(hi); k, v = c.Next() {
				if !take(k, v) {
					break
				}
			}
			return nil
		}
		k, v := c.Seek(hi.bytes())
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && !keyFrom(k).less(lo); k, v = c.Prev() {
			if !take(k, v) {
				break
			}
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return nil
	})
	return out, err
}

type filteredEvent struct {
	stream string
	pos    filterPos
	event
}

type filterQuery struct {
	group      string
	names      []string // exact stream names, or
	prefix     string   // a name prefix
	start, end evKey    // [start, end)
	now        int64    // events beyond the group's retention at now are expired
	after      *filterPos
	pat        pattern
	limit      int
	maxBytes   int
	scanBudget int // events examined before a page ends early, as AWS does
}

// head is one stream's cursor in the merge of FilterLogEvents.
type head struct {
	name string
	id   uint64
	c    *bolt.Cursor
	k, v []byte
}

type heads []*head

func (h heads) Len() int { return len(h) }
func (h heads) Less(i, j int) bool {
	a, b := keyFrom(h[i].k), keyFrom(h[j].k)
	return filterPos{a.TS, h[i].id, a.Seq}.less(filterPos{b.TS, h[j].id, b.Seq})
}
func (h heads) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heads) Push(x any)   { *h = append(*h, x.(*head)) }
func (h *heads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// filter merges the chosen streams by timestamp. It returns the matching
// events and, when more may follow, the position to resume after.
func (s *store) filter(q filterQuery) (out []filteredEvent, resume *filterPos, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		gb := groupBucket(tx, q.group)
		if gb == nil {
			return errGroupNotFound
		}
		var gm groupMeta
		if err := getJSON(gb, &gm); err != nil {
			return err
		}
		if f := gm.floor(q.now); q.start.less(f) {
			q.start = f
		}
		streams := gb.Bucket(bStreams)
		var h heads
		addStream := func(name []byte) error {
			sb := streams.Bucket(name)
			if sb == nil {
				return nil
			}
			var sm streamMeta
			if err := getJSON(sb, &sm); err != nil {
				return fmt.Errorf("stream %s: %w", name, err)
			}
			start := q.start
			if q.after != nil && start.less(evKey{q.after.TS, 0}) {
				start = evKey{q.after.TS, 0}
			}
			c := sb.Bucket(bEvents).Cursor()
			k, v := c.Seek(start.bytes())
			if k != nil && keyFrom(k).less(q.end) {
				h = append(h, &head{name: string(name), id: sm.ID, c: c, k: k, v: v})
			}
			return nil
		}
		if len(q.names) > 0 {
			for _, n := range q.names {
				if err := addStream([]byte(n)); err != nil {
					return err
				}
			}
		} else {
			c := streams.Cursor()
			for k, v := c.Seek([]byte(q.prefix)); k != nil && strings.HasPrefix(string(k), q.prefix); k, v = c.Next() {
				if v == nil {
					if err := addStream(k); err != nil {
						return err
					}
				}
			}
		}
		heap.Init(&h)
		size, scanned := 0, 0
		var lastScanned *filterPos
		for h.Len() > 0 {
			top := h[0]
			k := keyFrom(top.k)
			pos := filterPos{k.TS, top.id, k.Seq}
			if q.after == nil || q.after.less(pos) {
				if scanned == q.scanBudget || len(out) == q.limit {
					// Everything up to lastScanned was returned or did not match.
					resume = lastScanned
					return nil
				}
				scanned++
				msg := string(top.v[8:])
				if q.pat.match(msg) {
					size += len(msg) + 26
					if len(out) > 0 && size > q.maxBytes {
						resume = &out[len(out)-1].pos
						return nil
					}
					out = append(out, filteredEvent{stream: top.name, pos: pos, event: event{
						key: k, ingestion: int64(binary.BigEndian.Uint64(top.v)), message: msg,
					}})
				}
				lastScanned = &pos
			}
			top.k, top.v = top.c.Next()
			if top.k == nil || !keyFrom(top.k).less(q.end) {
				heap.Pop(&h)
			} else {
				heap.Fix(&h, 0)
			}
		}
		return nil
	})
	return out, resume, err
}

// loadMeta reads the metadata of a stream and of its group.
func loadMeta(gb, sb *bolt.Bucket) (streamMeta, groupMeta, error) {
	var sm streamMeta
	var gm groupMeta
	if err := getJSON(sb, &sm); err != nil {
		return sm, gm, err
	}
	err := getJSON(gb, &gm)
	return sm, gm, err
}
