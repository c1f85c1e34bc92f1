package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// With a data directory, functions survive a simulator restart: every
// change rewrites <data>/lambda/functions.json. Execution environments and
// queued events do not survive, as a restart ends every container.

const storeVersion = 1

type storedFunction struct {
	Conf         functionConfiguration
	Live         functionConfiguration
	ImageURI     string
	ResolvedURI  string
	PullRef      string
	LivePullRef  string
	Tags         map[string]string
	InvokeConfig *eventInvokeConfig `json:",omitempty"`
	Reserved     *int32             `json:",omitempty"`
}

type storeFile struct {
	Version   int
	Functions map[string]storedFunction
}

func (s *Service) storePath() string {
	return filepath.Join(s.cfg.DataDir, "lambda", "functions.json")
}

// save writes every function. Writes are serialised and each takes a fresh
// snapshot, so the file always ends with the latest state.
func (s *Service) save() {
	if s.cfg.DataDir == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	f := storeFile{Version: storeVersion, Functions: make(map[string]storedFunction, len(s.functions))}
	for name, fn := range s.functions {
		f.Functions[name] = storedFunction{
			Conf: fn.conf, Live: fn.live,
			ImageURI: fn.imageURI, ResolvedURI: fn.resolvedURI, PullRef: fn.pullRef, LivePullRef: fn.livePullRef,
			Tags: copyMap(fn.tags), InvokeConfig: fn.invokeCfg, Reserved: fn.reserved,
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	s.mu.Unlock()
	if err == nil {
		err = writeFileAtomic(s.storePath(), b)
	}
	if err != nil {
		slog.Error("lambda: save functions", "path", s.storePath(), "err", err)
	}
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// load restores the saved functions; provisioning or an update that was
// under way when the simulator stopped runs again.
func (s *Service) load() error {
	if s.cfg.DataDir == "" {
		return nil
	}
	b, err := os.ReadFile(s.storePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", s.storePath(), err)
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("parse %s: %w", s.storePath(), err)
	}
	for name, sf := range f.Functions {
		ctx, cancel := context.WithCancel(context.Background())
		fn := &function{
			conf: sf.Conf, live: sf.Live,
			imageURI: sf.ImageURI, resolvedURI: sf.ResolvedURI, pullRef: sf.PullRef, livePullRef: sf.LivePullRef,
			tags: sf.Tags, invokeCfg: sf.InvokeConfig, reserved: sf.Reserved,
			ctx: ctx, cancel: cancel, envs: map[*environment]bool{}, kick: make(chan struct{}, 1),
		}
		if fn.tags == nil {
			fn.tags = map[string]string{}
		}
		s.functions[name] = fn
		s.startDispatcher(fn)
		switch {
		case fn.conf.State == "Pending":
			go s.activate(fn)
		case fn.conf.LastUpdateStatus == "InProgress":
			go s.finishUpdate(fn)
		}
	}
	slog.Info("lambda: functions restored", "count", len(f.Functions), "path", s.storePath())
	return nil
}
