package cloudwatchlogs

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// retentionDays are the values PutRetentionPolicy accepts.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// sweepEvery is how often expired events are deleted from disk. Reads never
// wait for it: they skip expired events themselves, as AWS hides them.
const sweepEvery = 10 * time.Minute

// purgeBatch bounds one sweeping transaction, so writers wait little.
const purgeBatch = 10000

func (s *Service) putRetentionPolicy(r *http.Request) error {
	var req struct {
		LogGroupName    string `json:"logGroupName"`
		RetentionInDays *int   `json:"retentionInDays"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	if req.RetentionInDays == nil {
		return invalid("1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null")
	}
	if !slices.Contains(retentionDays, *req.RetentionInDays) {
		return invalid("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %s",
			*req.RetentionInDays, enumList(retentionDays))
	}
	return mapErr(s.store.updateGroup(req.LogGroupName, func(gm *groupMeta) error {
		gm.RetentionInDays = *req.RetentionInDays
		return nil
	}))
}

// enumList formats v as AWS's validation messages list an enum: [1, 3, 5].
func enumList(v []int) string {
	s := make([]string, len(v))
	for i, d := range v {
		s[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func (s *Service) deleteRetentionPolicy(r *http.Request) error {
	var req groupReq
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", req.LogGroupName); err != nil {
		return err
	}
	return mapErr(s.store.updateGroup(req.LogGroupName, func(gm *groupMeta) error {
		gm.RetentionInDays = 0
		return nil
	}))
}

// sweep deletes expired events now and every sweepEvery until stop closes.
func (s *Service) sweep(stop <-chan struct{}) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		if n, err := s.store.purgeExpired(s.nowMillis()); err != nil {
			slog.Error("cloudwatch logs: deleting expired events", "err", err)
		} else if n > 0 {
			slog.Debug("cloudwatch logs: deleted expired events", "events", n)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// purgeExpired deletes the events beyond their group's retention at now and
// returns how many it deleted.
func (s *store) purgeExpired(now int64) (int, error) {
	type target struct {
		group, stream string
		floor         evKey
	}
	var targets []target
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bGroups).ForEachBucket(func(g []byte) error {
			gb := tx.Bucket(bGroups).Bucket(g)
			var gm groupMeta
			if err := getJSON(gb, &gm); err != nil {
				return fmt.Errorf("group %s: %w", g, err)
			}
			if gm.RetentionInDays <= 0 {
				return nil
			}
			return gb.Bucket(bStreams).ForEachBucket(func(st []byte) error {
				targets = append(targets, target{string(g), string(st), gm.floor(now)})
				return nil
			})
		})
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range targets {
		for {
			n, err := s.purgeStream(t.group, t.stream, t.floor)
			total += n
			if err != nil {
				return total, fmt.Errorf("stream %s/%s: %w", t.group, t.stream, err)
			}
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// purgeStream deletes up to purgeBatch events before floor from one stream.
func (s *store) purgeStream(group, stream string, floor evKey) (n int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		gb, sb, err := streamBucket(tx, group, stream)
		if errors.Is(err, errGroupNotFound) || errors.Is(err, errStreamNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		c := sb.Bucket(bEvents).Cursor()
		var freed int64
		// Cursor.Delete moves the cursor; restart from First each time.
		for k, v := c.First(); k != nil && keyFrom(k).less(floor) && n < purgeBatch; k, v = c.First() {
			freed += int64(len(v) - 8)
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		sm, gm, err := loadMeta(gb, sb)
		if err != nil {
			return err
		}
		sm.StoredBytes -= freed
		gm.StoredBytes -= freed
		if err := putJSON(sb, sm); err != nil {
			return err
		}
		return putJSON(gb, gm)
	})
	return n, err
}
