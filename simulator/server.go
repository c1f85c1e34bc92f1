package simulator

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
	"github.com/sockerless-lambda/sockerless/simulator/cloudwatchlogs"
	"github.com/sockerless-lambda/sockerless/simulator/ecr"
	"github.com/sockerless-lambda/sockerless/simulator/efs"
	"github.com/sockerless-lambda/sockerless/simulator/lambda"
	"github.com/sockerless-lambda/sockerless/simulator/sts"
)

// Server is the running simulator: every service on one listener. Lambda
// and EFS speak rest-json on their API versions' paths (/2015-03-31/ and the
// like, /2015-02-01/), the JSON 1.1 and query protocols share POST /.
type Server struct {
	cfg     Config
	dataDir string
	tempDir bool

	Logs   *cloudwatchlogs.Service
	ECR    *ecr.Service
	EFS    *efs.Service
	Lambda *lambda.Service
	STS    *sts.Service

	listener net.Listener
	http     *http.Server
}

// New builds the services. Nothing listens until Start.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, dataDir: cfg.DataDir}
	if s.dataDir == "" {
		dir, err := os.MkdirTemp("", "sockerless-simulator-")
		if err != nil {
			return nil, fmt.Errorf("create temporary data directory: %w", err)
		}
		s.dataDir, s.tempDir = dir, true
	}
	// The Docker engine bind-mounts EFS directories: they need absolute paths.
	if abs, err := filepath.Abs(s.dataDir); err == nil {
		s.dataDir = abs
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.listener = ln
	host := ln.Addr().String()

	if s.Logs, err = cloudwatchlogs.New(cloudwatchlogs.Config{
		Region: cfg.Region, AccountID: cfg.AccountID, DataDir: s.dataDir,
	}); err != nil {
		return nil, fmt.Errorf("cloudwatch logs: %w", err)
	}
	if s.ECR, err = ecr.New(ecr.Config{
		Region: cfg.Region, AccountID: cfg.AccountID, DataDir: s.dataDir,
		RegistryHost: host, Upstream: cfg.RegistryUpstream,
	}); err != nil {
		return nil, fmt.Errorf("ecr: %w", err)
	}
	efsDir := cfg.EFSDir
	if efsDir == "" {
		efsDir = filepath.Join(s.dataDir, "efs")
	}
	if s.EFS, err = efs.New(efs.Config{
		Region: cfg.Region, AccountID: cfg.AccountID, DataDir: s.dataDir, Dir: efsDir, Ephemeral: s.tempDir,
	}); err != nil {
		return nil, fmt.Errorf("efs: %w", err)
	}
	s.STS = sts.New(cfg.AccountID)
	if s.Lambda, err = lambda.New(lambda.Config{
		Region: cfg.Region, AccountID: cfg.AccountID, DataDir: s.dataDir, Ephemeral: s.tempDir,
		PendingDelay: cfg.PendingDelay, IdleTimeout: cfg.IdleTimeout,
		AccountConcurrency: cfg.AccountConcurrency, RuntimeAPIHost: cfg.RuntimeAPIHost,
	}, s.Logs, s.ECR, s.EFS); err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}

	mux := http.NewServeMux()
	s.Lambda.Register(mux)
	s.EFS.Register(mux)
	mux.Handle("/v2/", s.ECR.Registry())
	mux.HandleFunc("POST /{$}", s.dispatch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		awsapi.WriteRestJSONError(w, &awsapi.RestJSONError{
			Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "Unknown operation " + r.Method + " " + r.URL.Path,
		})
	})
	s.http = &http.Server{Handler: logRequests(mux)}
	return s, nil
}

// Addr is the address the simulator listens on (host:port).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is the endpoint URL clients use.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Start serves until Close.
func (s *Server) Start() {
	go func() {
		if err := s.http.Serve(s.listener); err != nil && err != http.ErrServerClosed {
			slog.Error("simulator stopped serving", "err", err)
		}
	}()
}

// Close stops serving, removes every execution environment and, without a
// data directory, all state.
func (s *Server) Close(ctx context.Context) error {
	_ = s.http.Shutdown(ctx)
	err := s.Lambda.Close(ctx)
	if cerr := s.ECR.Close(); err == nil {
		err = cerr
	}
	if cerr := s.Logs.Close(); err == nil {
		err = cerr
	}
	if cerr := s.EFS.Close(); err == nil {
		err = cerr
	}
	if s.tempDir {
		_ = os.RemoveAll(s.dataDir)
	}
	return err
}

// dispatch routes the JSON 1.1 protocols by X-Amz-Target and the query
// protocol (STS) by its Action form field.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	service, op, _ := strings.Cut(target, ".")
	switch service {
	case "Logs_20140328":
		s.Logs.Handle(w, r, op)
	case "AmazonEC2ContainerRegistry_V20150921":
		s.ECR.Handle(w, r, op)
	case "":
		s.STS.ServeHTTP(w, r)
	default:
		awsapi.WriteJSON11Error(w, &awsapi.JSON11Error{Code: "UnknownOperationException", Message: "Unknown target " + target})
	}
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slog.Debug("request", "method", r.Method, "path", r.URL.Path, "target", r.Header.Get("X-Amz-Target"))
		h.ServeHTTP(w, r)
	})
}
