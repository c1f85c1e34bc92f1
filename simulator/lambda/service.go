// Package lambda simulates AWS Lambda: the control plane on AWS's rest-json
// protocol, and execution environments run as containers on the local Docker
// engine, each served the Lambda Runtime API.
package lambda

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Config configures the Lambda service.
type Config struct {
	Region       string
	AccountID    string
	DataDir      string
	PendingDelay time.Duration
	IdleTimeout  time.Duration
}

// Service is the simulated Lambda.
type Service struct {
	cfg    Config
	logs   Logs
	images Images
}

// New returns the service. TODO(walking skeleton): implement.
func New(cfg Config, logs Logs, images Images) (*Service, error) {
	return &Service{cfg: cfg, logs: logs, images: images}, nil
}

// Register adds Lambda's routes to mux.
func (s *Service) Register(mux *http.ServeMux) {}

// Close removes every execution environment.
func (s *Service) Close(ctx context.Context) error { return errors.New("not implemented") }
