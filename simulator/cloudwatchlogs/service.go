// Package cloudwatchlogs simulates Amazon CloudWatch Logs on the JSON 1.1
// protocol (X-Amz-Target: Logs_20140328.<Operation>). Events are kept in a
// bbolt file under the data directory, never in memory.
package cloudwatchlogs

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/lambda"
)

// Config configures the service.
type Config struct {
	Region    string
	AccountID string
	DataDir   string
}

// Service is the simulated CloudWatch Logs.
type Service struct {
	cfg   Config
	store *store
	now   func() time.Time // replaced in tests

	stopSweep chan struct{}
	swept     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ lambda.Logs = (*Service)(nil)

// New opens (or creates) the store in cfg.DataDir/cloudwatchlogs.
func New(cfg Config) (*Service, error) {
	st, err := openStore(filepath.Join(cfg.DataDir, "cloudwatchlogs"))
	if err != nil {
		return nil, fmt.Errorf("cloudwatch logs store: %w", err)
	}
	s := &Service{cfg: cfg, store: st, now: time.Now, stopSweep: make(chan struct{})}
	s.swept.Go(func() { s.sweep(s.stopSweep) })
	return s, nil
}

// Close stops the sweeper and releases the store. Later calls do nothing.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.stopSweep)
		s.swept.Wait()
		s.closeErr = s.store.close()
	})
	return s.closeErr
}

func (s *Service) nowMillis() int64 { return s.now().UnixMilli() }

// EnsureLogGroup creates the group unless it exists.
func (s *Service) EnsureLogGroup(group string) error {
	if err := s.store.createGroup(group, groupMeta{CreationTime: s.nowMillis()}); err != nil && err != errGroupExists {
		return fmt.Errorf("create log group %s: %w", group, err)
	}
	return nil
}

// EnsureLogStream creates the stream (and its group) unless it exists.
func (s *Service) EnsureLogStream(group, stream string) error {
	if err := s.store.appendEvents(group, stream, nil, s.nowMillis(), true, true); err != nil {
		return fmt.Errorf("create log stream %s/%s: %w", group, stream, err)
	}
	return nil
}

// Append stores events in the stream in one transaction, creating the group
// and stream if missing. An event dated before the stream's last event is
// stored at that last timestamp, so the stream reads back in write order.
func (s *Service) Append(group, stream string, events []lambda.LogEvent) error {
	in := make([]inEvent, len(events))
	for i, e := range events {
		in[i] = inEvent{Timestamp: e.Timestamp, Message: e.Message}
	}
	if err := s.store.appendEvents(group, stream, in, s.nowMillis(), true, true); err != nil {
		return fmt.Errorf("append to log stream %s/%s: %w", group, stream, err)
	}
	return nil
}
