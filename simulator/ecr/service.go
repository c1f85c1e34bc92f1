// Package ecr simulates Amazon ECR: its API on the JSON 1.1 protocol
// (X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>) and the
// registry data plane, an OCI Distribution registry under /v2/.
package ecr

import (
	"context"
	"errors"
	"net/http"
)

// Config configures the service.
type Config struct {
	Region       string
	AccountID    string
	DataDir      string
	RegistryHost string // host:port of the simulator, where /v2/ is served
	Upstream     bool   // fetch Docker Hub images from the internet for pull-through rules
}

// Service is the simulated ECR.
type Service struct{ cfg Config }

// New returns the service. TODO(walking skeleton): implement.
func New(cfg Config) (*Service, error) { return &Service{cfg: cfg}, nil }

// Handle answers one API operation.
func (s *Service) Handle(w http.ResponseWriter, r *http.Request, op string) {}

// Registry is the OCI Distribution registry handler, mounted at /v2/.
func (s *Service) Registry() http.Handler { return http.NotFoundHandler() }

// Close releases the registry.
func (s *Service) Close() error { return nil }

// Resolve implements lambda.Images.
func (s *Service) Resolve(ctx context.Context, imageURI string) (string, string, error) {
	return "", "", errors.New("not implemented")
}

// EngineAuth implements lambda.Images.
func (s *Service) EngineAuth() string { return "" }
