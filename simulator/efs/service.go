// Package efs simulates Amazon EFS: file systems and access points on EFS's
// rest-json protocol (paths under /2015-02-01/), each file system backed by a
// host directory that Lambda bind-mounts into the functions that use one of
// its access points. Mount targets, policies, replication, backups and
// lifecycle configuration are not simulated: the simulator has no VPCs, and
// functions reach file systems without mount targets.
package efs

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Config configures the service.
type Config struct {
	Region    string
	AccountID string
	// DataDir holds the service's state (<DataDir>/efs/state.json).
	DataDir string
	// Dir holds the file systems' contents, one directory per file system
	// (<Dir>/<fs-id>/). It must be an absolute path that the Docker engine
	// can bind-mount: the same path on the engine's host as here.
	Dir string
	// Ephemeral means the state is thrown away at exit: Close then removes
	// the directories of the file systems, which would otherwise outlive them.
	Ephemeral bool
}

// Service is the simulated EFS.
type Service struct {
	cfg Config

	saveMu sync.Mutex // one write of the state file at a time
	mu     sync.Mutex // guards st
	st     state

	mountMu sync.Mutex // one root-directory creation at a time
}

// state is everything EFS knows, kept in <data>/efs/state.json.
type state struct {
	// Seq numbers resources in creation order, for listing and paging.
	Seq          int64                   `json:"seq"`
	FileSystems  map[string]*fileSystem  `json:"fileSystems"`
	AccessPoints map[string]*accessPoint `json:"accessPoints"`
}

type fileSystem struct {
	ID              string    `json:"id"`
	Seq             int64     `json:"seq"`
	CreationToken   string    `json:"creationToken"`
	CreatedAt       time.Time `json:"createdAt"`
	PerformanceMode string    `json:"performanceMode"`
	ThroughputMode  string    `json:"throughputMode"`
	ProvisionedMiBs *float64  `json:"provisionedThroughputInMibps,omitempty"`
	Encrypted       bool      `json:"encrypted"`
	KmsKeyID        string    `json:"kmsKeyId,omitempty"`
	AZName          string    `json:"availabilityZoneName,omitempty"`
	Tags            []tag     `json:"tags"`
}

type accessPoint struct {
	ID            string        `json:"id"`
	Seq           int64         `json:"seq"`
	FileSystemID  string        `json:"fileSystemId"`
	ClientToken   string        `json:"clientToken"`
	PosixUser     *posixUser    `json:"posixUser,omitempty"`
	RootDirectory rootDirectory `json:"rootDirectory"`
	Tags          []tag         `json:"tags"`
}

// New loads the state from cfg.DataDir and makes cfg.Dir.
func New(cfg Config) (*Service, error) {
	if !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("file system directory %q is not an absolute path", cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.Dir, err)
	}
	s := &Service{cfg: cfg}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close removes the file systems' directories when the state is ephemeral:
// their file systems end with this simulator.
func (s *Service) Close() error {
	if !s.cfg.Ephemeral {
		return nil
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.st.FileSystems))
	for id := range s.st.FileSystems {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := os.RemoveAll(s.fsDir(id)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) statePath() string { return filepath.Join(s.cfg.DataDir, "efs", "state.json") }

func (s *Service) load() error {
	s.st = state{FileSystems: map[string]*fileSystem{}, AccessPoints: map[string]*accessPoint{}}
	raw, err := os.ReadFile(s.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", s.statePath(), err)
	}
	if err := json.Unmarshal(raw, &s.st); err != nil {
		return fmt.Errorf("parse %s: %w", s.statePath(), err)
	}
	if s.st.FileSystems == nil {
		s.st.FileSystems = map[string]*fileSystem{}
	}
	if s.st.AccessPoints == nil {
		s.st.AccessPoints = map[string]*accessPoint{}
	}
	slog.Info("efs: state restored", "fileSystems", len(s.st.FileSystems), "accessPoints", len(s.st.AccessPoints), "path", s.statePath())
	return nil
}

// save writes the state atomically. Writes are serialised and each takes a
// fresh snapshot, so the file always ends with the latest state.
func (s *Service) save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	raw, err := json.MarshalIndent(&s.st, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode efs state: %w", err)
	}
	path := s.statePath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// Register adds EFS's routes to mux. Every other path under EFS's API
// version answers as an unknown operation.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /2015-02-01/file-systems", s.createFileSystem)
	mux.HandleFunc("GET /2015-02-01/file-systems", s.describeFileSystems)
	mux.HandleFunc("DELETE /2015-02-01/file-systems/{id}", s.deleteFileSystem)
	mux.HandleFunc("POST /2015-02-01/access-points", s.createAccessPoint)
	mux.HandleFunc("GET /2015-02-01/access-points", s.describeAccessPoints)
	mux.HandleFunc("DELETE /2015-02-01/access-points/{id}", s.deleteAccessPoint)
	mux.HandleFunc("/2015-02-01/", func(w http.ResponseWriter, r *http.Request) {
		awsapi.WriteRestJSONError(w, &awsapi.RestJSONError{
			Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "Unknown operation " + r.Method + " " + r.URL.Path,
		})
	})
}

func (s *Service) fileSystemARN(id string) string {
	return "arn:aws:elasticfilesystem:" + s.cfg.Region + ":" + s.cfg.AccountID + ":file-system/" + id
}

func (s *Service) accessPointARN(id string) string {
	return "arn:aws:elasticfilesystem:" + s.cfg.Region + ":" + s.cfg.AccountID + ":access-point/" + id
}

// newID is prefix followed by 17 random hex digits, as EFS's IDs are.
func newID(prefix string) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:17]
}

// epoch is how rest-json carries timestamps: seconds, with a fraction.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
