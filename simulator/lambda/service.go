// Package lambda simulates AWS Lambda: the control plane on AWS's rest-json
// protocol, and execution environments run as containers on the local Docker
// engine, each served the Lambda Runtime API.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Config configures the Lambda service.
type Config struct {
	Region       string
	AccountID    string
	DataDir      string
	Ephemeral    bool // DataDir goes at exit: so do the functions and the images pulled for them
	PendingDelay time.Duration
	IdleTimeout  time.Duration // default 5m

	// RetryDelays are the waits before the retries of a failed asynchronous
	// invocation; AWS waits 1 min, then 2 min (the default). The last delay
	// repeats if more retries are configured than delays given.
	RetryDelays []time.Duration
	// InitTimeout bounds a cold start's init phase before the invocation's
	// own timeout starts counting, as Lambda's 10 s init limit (default 10s).
	InitTimeout time.Duration
	// RuntimeAPIHost is the IP the Runtime API listens on and that function
	// containers dial. Empty: the Docker bridge network's gateway.
	RuntimeAPIHost string
	// AccountConcurrency is the account's concurrent-executions limit
	// (default 1000, AWS's default per Region).
	AccountConcurrency int
}

// Service is the simulated Lambda.
type Service struct {
	cfg      Config
	logs     Logs
	images   Images
	fs       FileSystems // nil: no access point exists
	docker   *dockerHost
	instance string // labels this simulator's containers

	live   sync.WaitGroup // environments not yet fully destroyed
	saveMu sync.Mutex     // one write of the function store at a time

	mu            sync.Mutex
	functions     map[string]*function
	closed        bool
	pooledRunning int           // invocations drawing on the unreserved pool
	slotFreed     chan struct{} // closed and replaced whenever a slot may have freed
}

// New returns the service and removes the containers a previous simulator
// left behind when it crashed. fileSystems may be nil: then no
// FileSystemConfigs can name an existing access point.
func New(cfg Config, logs Logs, images Images, fileSystems FileSystems) (*Service, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if cfg.AccountConcurrency <= 0 {
		cfg.AccountConcurrency = 1000
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	docker, err := newDockerHost(cfg.RuntimeAPIHost)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	s := &Service{
		cfg: cfg, logs: logs, images: images, fs: fileSystems, docker: docker,
		instance:  awsapi.RequestID(),
		functions: map[string]*function{},
		slotFreed: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("restore functions: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A Docker engine that is down must not stop the control plane; invokes
	// will report it.
	if err := docker.removeOrphans(ctx); err != nil {
		slog.Warn("lambda: cannot remove leftover containers", "err", err)
	}
	return s, nil
}

// Close removes every execution environment of this simulator.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var envs []*environment
	for _, fn := range s.functions {
		fn.cancel()
		for e := range fn.envs {
			envs = append(envs, e)
		}
		fn.envs, fn.idle, fn.queue = map[*environment]bool{}, nil, nil
	}
	s.mu.Unlock()
	destroyAll(ctx, envs, "simulator closing")
	// Environments already being discarded finish on their own; wait for them.
	done := make(chan struct{})
	go func() { s.live.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Catch containers whose environment was still being created.
	err := s.docker.removeLabelled(ctx, labelInstance+"="+s.instance)
	if s.cfg.Ephemeral {
		// The functions are gone with the simulator, and so are the images
		// it pulled for them.
		s.docker.removePulled(ctx)
	}
	return errors.Join(err, s.docker.client.Close())
}

// hostname labels containers with their owner, so that New only removes the
// leftovers of dead simulators.
func hostname() string {
	h, _ := os.Hostname()
	return h
}
