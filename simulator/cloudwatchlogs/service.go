// Package cloudwatchlogs simulates Amazon CloudWatch Logs on the JSON 1.1
// protocol (X-Amz-Target: Logs_20140328.<Operation>).
package cloudwatchlogs

import (
	"errors"
	"net/http"

	"github.com/sockerless-lambda/sockerless/simulator/lambda"
)

// Config configures the service.
type Config struct {
	Region    string
	AccountID string
	DataDir   string
}

// Service is the simulated CloudWatch Logs.
type Service struct{ cfg Config }

// New returns the service. TODO(walking skeleton): implement.
func New(cfg Config) (*Service, error) { return &Service{cfg: cfg}, nil }

// Handle answers one operation.
func (s *Service) Handle(w http.ResponseWriter, r *http.Request, op string) {}

// Close releases the store.
func (s *Service) Close() error { return nil }

func (s *Service) EnsureLogGroup(group string) error          { return errors.New("not implemented") }
func (s *Service) EnsureLogStream(group, stream string) error { return errors.New("not implemented") }
func (s *Service) Append(group, stream string, events []lambda.LogEvent) error {
	return errors.New("not implemented")
}
