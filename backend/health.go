package backend

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// Health checks run as dockerd runs them: the container's HEALTHCHECK (from
// the request, else the image) is a process the agent starts next to the
// main one, every interval, and its exit code makes the container healthy,
// or unhealthy after Retries failures in a row.

// Docker's defaults.
const (
	healthInterval      = 30 * time.Second
	healthTimeout       = 30 * time.Second
	healthStartInterval = 5 * time.Second
	healthRetries       = 3
	healthLogEntries    = 5    // results kept, as dockerd keeps
	healthOutputMax     = 4096 // bytes of output kept per result
)

// healthConfig is the container's health check with Docker's defaults, or
// nil when it has none (or NONE).
func healthConfig(c *Container) *container.HealthConfig {
	hc := c.Config.Healthcheck
	var img container.HealthConfig
	if ih := c.Image.Config.Config.Healthcheck; ih != nil {
		img = container.HealthConfig{Test: ih.Test, Interval: ih.Interval, Timeout: ih.Timeout, StartPeriod: ih.StartPeriod, Retries: ih.Retries}
	}
	out := img
	if hc != nil {
		// The request's fields win; zero ones are the image's, as dockerd merges.
		if len(hc.Test) > 0 {
			out.Test = hc.Test
		}
		for _, f := range []struct{ dst, src *time.Duration }{{&out.Interval, &hc.Interval}, {&out.Timeout, &hc.Timeout}, {&out.StartPeriod, &hc.StartPeriod}, {&out.StartInterval, &hc.StartInterval}} {
			if *f.src != 0 {
				*f.dst = *f.src
			}
		}
		if hc.Retries != 0 {
			out.Retries = hc.Retries
		}
	}
	if len(out.Test) == 0 || out.Test[0] == "NONE" {
		return nil
	}
	if out.Interval == 0 {
		out.Interval = healthInterval
	}
	if out.Timeout == 0 {
		out.Timeout = healthTimeout
	}
	if out.StartInterval == 0 {
		out.StartInterval = healthStartInterval
	}
	if out.Retries == 0 {
		out.Retries = healthRetries
	}
	return &out
}

// checkHealthConfig refuses what dockerd refuses.
func checkHealthConfig(hc *container.HealthConfig) error {
	if hc == nil {
		return nil
	}
	for name, d := range map[string]time.Duration{"Interval": hc.Interval, "Timeout": hc.Timeout, "StartInterval": hc.StartInterval} {
		if d != 0 && d < time.Millisecond {
			return badRequest("%s in Healthcheck cannot be less than 1ms", name)
		}
	}
	if hc.StartPeriod < 0 {
		return badRequest("StartPeriod in Healthcheck cannot be negative")
	}
	if hc.Retries < 0 {
		return badRequest("Retries in Healthcheck cannot be negative")
	}
	return nil
}

// healthArgs is the check's argv: CMD runs as given, CMD-SHELL with /bin/sh.
func healthArgs(test []string) ([]string, error) {
	switch {
	case len(test) > 1 && test[0] == "CMD":
		return test[1:], nil
	case len(test) == 2 && test[0] == "CMD-SHELL":
		return []string{"/bin/sh", "-c", test[1]}, nil
	}
	return nil, fmt.Errorf("health check %q: the test must be NONE, CMD args... or CMD-SHELL command", test)
}

// startHealthchecks begins the run's checks, if the container has one.
func (b *Backend) startHealthchecks(c *Container, r *run) {
	cfg := healthConfig(c)
	if cfg == nil {
		return
	}
	args, err := healthArgs(cfg.Test)
	b.store.Update(c, func(c *Container) { c.health = &container.Health{Status: container.Starting} })
	go func() {
		started := time.Now()
		for {
			inStart := time.Since(started) < cfg.StartPeriod
			interval := cfg.Interval
			if inStart {
				interval = min(interval, cfg.StartInterval)
			}
			select {
			case <-time.After(interval):
			case <-r.done:
				return
			}
			// As dockerd: no check of a paused container; and none while
			// the agent is away (it would arrive late, in a burst).
			if snap := b.store.Snap(c); snap.Paused || !r.live() {
				continue
			}
			result := container.HealthcheckResult{Start: time.Now().UTC(), ExitCode: -1}
			if err != nil {
				result.Output = err.Error()
			} else {
				result = b.probe(c, r, args, cfg.Timeout)
			}
			b.recordHealth(c, r, result, cfg.Retries, time.Since(started) < cfg.StartPeriod)
		}
	}()
}

// probe runs the check once as an exec session of the run.
func (b *Backend) probe(c *Container, r *run, args []string, timeout time.Duration) container.HealthcheckResult {
	out := &limitedBuffer{max: healthOutputMax}
	e := &execSession{
		ID: newID(), ctr: c, run: r, created: time.Now(), finished: make(chan struct{}),
		cfg:     container.ExecOptions{Cmd: args, AttachStdout: true, AttachStderr: true},
		started: true, running: true, stdout: out, stderr: out,
	}
	b.agents.addExec(e)
	defer b.agents.dropExec(e)
	res := container.HealthcheckResult{Start: time.Now().UTC()}
	proc := e.process(nil)
	r.send(protocol.Message{Type: protocol.MsgExec, ID: e.ID, Process: &proc})
	select {
	case <-e.finished:
		e.mu.Lock()
		res.ExitCode = *e.exitCode
		e.mu.Unlock()
		res.Output = out.String()
	case <-time.After(timeout):
		res.ExitCode = -1
		res.Output = fmt.Sprintf("Health check exceeded timeout (%s)", timeout)
		r.send(protocol.Message{Type: protocol.MsgSignal, ID: e.ID, Signal: "KILL"})
	case <-r.done:
	}
	res.End = time.Now().UTC()
	return res
}

// recordHealth folds a result into the container's health, as dockerd: a
// success makes it healthy; Retries failures in a row make it unhealthy,
// except that failures during the start period do not count.
func (b *Backend) recordHealth(c *Container, r *run, res container.HealthcheckResult, retries int, inStart bool) {
	var changed string
	b.store.Update(c, func(c *Container) {
		// A check cut by the container's end is not a result.
		if c.health == nil || c.run != r || c.status != stateRunning {
			return
		}
		h := *c.health
		h.Log = append(append([]*container.HealthcheckResult{}, h.Log...), &res)
		if len(h.Log) > healthLogEntries {
			h.Log = h.Log[len(h.Log)-healthLogEntries:]
		}
		before := h.Status
		switch {
		case res.ExitCode == 0:
			h.FailingStreak = 0
			h.Status = container.Healthy
		case inStart && h.Status == container.Starting:
		default:
			h.FailingStreak++
			if h.FailingStreak >= retries {
				h.Status = container.Unhealthy
			}
		}
		if h.Status != before {
			changed = h.Status
		}
		c.health = &h
	})
	if changed != "" {
		b.containerEvent(c, events.Action("health_status: "+changed), nil)
	}
}

// limitedBuffer keeps the first max bytes written, as dockerd keeps a
// health check's output.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
