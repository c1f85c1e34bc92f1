package backend

import (
	"context"
	"log/slog"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Restart policies run as dockerd's restart manager runs them: when a run
// ends on its own (not by docker stop or kill), always and unless-stopped
// start the container again, on-failure when it failed (up to its maximum
// retries), after a delay that starts at 100 ms and doubles up to a minute,
// back to 100 ms after a run that lasted 10 s. On Lambda this is also how a
// service outlives the 15-minute limit of one invocation.
const (
	restartDelayMin   = 100 * time.Millisecond
	restartDelayMax   = time.Minute
	restartResetAfter = 10 * time.Second
)

// markStopped records a docker stop or kill: the restart policy leaves the
// container alone (unless-stopped also across a backend restart).
func (b *Backend) markStopped(c *Container) {
	already := false
	b.store.Update(c, func(c *Container) { already, c.manualStop = c.manualStop, true })
	if !already {
		b.journal.append(c, journalEntry{Kind: entryStopped})
	}
}

// restartRecovered starts again, when the backend starts, the exited
// containers whose policy is always, or unless-stopped and not stopped by
// hand, as dockerd does when it starts.
func (b *Backend) restartRecovered() {
	for _, c := range b.store.List() {
		snap := b.store.Snap(c)
		var due bool
		b.store.Update(c, func(c *Container) {
			p := c.HostConfig.RestartPolicy.Name
			due = p == container.RestartPolicyAlways || (p == container.RestartPolicyUnlessStopped && !c.manualStop)
		})
		if snap.Status != stateExited || !due {
			continue
		}
		go func() {
			exited := func(c *Container) bool { return c.status == stateExited }
			if err := b.startRun(context.Background(), c, false, exited); err != nil && err != errAlreadyRunning && err != errNotDue {
				slog.Error("restart policy: start at backend start failed", "container", c.ID[:12], "err", err)
			}
		}()
	}
}

// checkRestartPolicy refuses what dockerd refuses.
func checkRestartPolicy(hc *container.HostConfig) error {
	p := hc.RestartPolicy
	switch p.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if p.MaximumRetryCount != 0 {
			return badRequest("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
	case container.RestartPolicyOnFailure:
		if p.MaximumRetryCount < 0 {
			return badRequest("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return badRequest("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", p.Name)
	}
	if hc.AutoRemove && p.Name != "" && p.Name != container.RestartPolicyDisabled {
		return badRequest("conflicting options: cannot specify both --restart and --rm")
	}
	return nil
}

// restartAfterExit starts the container again if its policy says so.
func (b *Backend) restartAfterExit(c *Container, code int) {
	var delay time.Duration
	var exits int
	due := false
	b.store.Update(c, func(c *Container) {
		if c.manualStop || c.removed {
			return
		}
		p := c.HostConfig.RestartPolicy
		switch p.Name {
		case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
			due = true
		case container.RestartPolicyOnFailure:
			due = code != 0 && (p.MaximumRetryCount == 0 || c.restarts < p.MaximumRetryCount)
		}
		if !due {
			return
		}
		if c.finishedAt.Sub(c.startedAt) >= restartResetAfter || c.restartDelay == 0 {
			c.restartDelay = restartDelayMin
		} else {
			c.restartDelay = min(2*c.restartDelay, restartDelayMax)
		}
		delay, exits = c.restartDelay, c.exits
		c.restarting = true
	})
	if !due {
		return
	}
	go func() {
		time.Sleep(delay)
		// Not if someone started, stopped or removed it meanwhile: checked
		// in the same step as the start.
		due := func(c *Container) bool {
			ok := !c.manualStop && !c.removed && c.status == stateExited && c.exits == exits
			if ok {
				c.restarts++
			}
			c.restarting = false
			return ok
		}
		switch err := b.startRun(context.Background(), c, false, due); err {
		case nil:
			b.journal.append(c, journalEntry{Kind: entryRestarted})
		case errAlreadyRunning, errNotDue:
		default:
			slog.Error("restart policy: start failed; trying again", "container", c.ID[:12], "err", err)
			b.restartAfterExit(c, code)
		}
	}()
}
