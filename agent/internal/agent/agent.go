// Package agent is the sockerless-agent: the entrypoint of every function
// image. It takes invocations from the Lambda Runtime API, dials back to the
// backend, runs the container's process and carries its stdio, signals and
// exit code (see docs/agent-protocol.md).
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// Config holds the agent's settings; zero fields take defaults.
type Config struct {
	AgentVersion string
	Runtime      *RuntimeClient
	Stdout       io.Writer // the log: LogLine and ExitRecord JSON lines
	Stderr       io.Writer // diagnostics, plain text
	LogGroup     string
	LogStream    string

	Dial           DialPolicy
	IdleFlush      time.Duration // partial-line flush to the log
	DeadlineMargin time.Duration // kill this long before the invocation deadline
	ExitAckTimeout time.Duration // wait this long for the backend's ExitAck
	DrainTimeout   time.Duration // wait this long for output after the process ended
	// CleanDirs are emptied after every run (on Lambda, /tmp), so that no
	// files leak into the next container in a warm environment.
	CleanDirs []string
}

// Agent runs invocations one after the other in this execution environment.
type Agent struct {
	cfg Config
	log *LogWriter
}

// New returns an Agent with defaults filled in.
func New(cfg Config) *Agent {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Dial.Total == 0 {
		cfg.Dial = DefaultDialPolicy
	}
	if cfg.IdleFlush == 0 {
		cfg.IdleFlush = DefaultIdleFlush
	}
	if cfg.DeadlineMargin == 0 {
		cfg.DeadlineMargin = 1500 * time.Millisecond
	}
	if cfg.ExitAckTimeout == 0 {
		cfg.ExitAckTimeout = 10 * time.Second
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	return &Agent{cfg: cfg, log: NewLogWriter(cfg.Stdout)}
}

func (a *Agent) diag(format string, args ...any) {
	fmt.Fprintf(a.cfg.Stderr, "sockerless-agent: "+format+"\n", args...)
}

// Run loops over invocations until ctx ends or the Runtime API fails for good.
func (a *Agent) Run(ctx context.Context) error {
	// Start reaping before the first child exists: as PID 1 the agent may
	// already have inherited processes.
	getReaper()
	failures := 0
	for {
		ev, err := a.cfg.Runtime.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The Runtime API is local; if it keeps failing the environment is
			// broken and exiting lets Lambda replace it.
			failures++
			if failures >= 5 {
				return fmt.Errorf("giving up: %w", err)
			}
			a.diag("%v (retrying)", err)
			time.Sleep(time.Duration(failures) * 200 * time.Millisecond)
			continue
		}
		failures = 0
		a.Handle(ctx, ev)
	}
}

// Handle runs one invocation to completion and reports it to the Runtime API.
func (a *Agent) Handle(ctx context.Context, ev Event) {
	inv, err := parseInvocation(ev.Payload)
	if err != nil {
		a.diag("request %s: %v", ev.RequestID, err)
		if err := a.cfg.Runtime.Fail(ctx, ev.RequestID, ErrorTypeInvalidInvocation, err.Error()); err != nil {
			a.diag("%v", err)
		}
		return
	}
	run := newRun(a, ev, inv)
	resp := run.execute(ctx)
	run.close()
	if err := a.cfg.Runtime.Respond(ctx, ev.RequestID, resp); err != nil {
		a.diag("%v", err)
	}
}

func parseInvocation(payload []byte) (*protocol.Invocation, error) {
	var inv protocol.Invocation
	if err := json.Unmarshal(payload, &inv); err != nil {
		return nil, fmt.Errorf("invalid invocation payload: %w", err)
	}
	switch {
	case inv.Version != protocol.Version:
		return nil, fmt.Errorf("invalid invocation payload: protocol version %d, this agent speaks %d", inv.Version, protocol.Version)
	case inv.ContainerID == "":
		return nil, errors.New("invalid invocation payload: containerId is empty")
	case len(inv.Process.Args) == 0:
		return nil, errors.New("invalid invocation payload: process.args is empty")
	}
	return &inv, nil
}
