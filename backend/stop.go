package backend

import (
	"net/http"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/gin-gonic/gin"
	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// kill sends sig to the main process through the agent.
func (b *Backend) kill(ctr *Container, sig string) bool {
	r := b.store.Snap(ctr).Run
	if r == nil {
		return false
	}
	return r.send(protocol.Message{Type: protocol.MsgSignal, Signal: sig})
}

// waitStopped waits until the container is no longer running.
func (b *Backend) waitStopped(ctr *Container, d time.Duration) bool {
	deadline := time.After(d)
	for {
		snap := b.store.Snap(ctr)
		if snap.Status != stateRunning {
			return true
		}
		select {
		case <-snap.Changed:
		case <-deadline:
			return false
		}
	}
}

// handleContainerKill serves POST /containers/{id}/kill.
func (b *Backend) handleContainerKill(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if b.store.Snap(ctr).Status != stateRunning {
		writeError(c, conflict("Cannot kill container: %s: container %s is not running", c.Param("id"), ctr.ID))
		return
	}
	sig := c.DefaultQuery("signal", "KILL")
	b.markStopped(ctr)
	if !b.kill(ctr, sig) {
		writeError(c, conflict("Cannot kill container: %s: the container's agent has not connected yet", c.Param("id")))
		return
	}
	b.containerEvent(ctr, events.ActionKill, map[string]string{"signal": sig})
	c.Status(http.StatusNoContent)
}

// handleContainerStop serves POST /containers/{id}/stop: the stop signal,
// then SIGKILL after the grace period. 304 when it is not running.
func (b *Backend) handleContainerStop(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	// Stopped by hand: no restart by policy, not even one waiting.
	b.markStopped(ctr)
	if b.store.Snap(ctr).Status != stateRunning {
		c.Status(http.StatusNotModified)
		return
	}
	if err := b.stop(ctr, c.Param("id"), c.Query("t"), c.Query("signal")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// handleContainerRestart serves POST /containers/{id}/restart: stop if
// running, then a new run of the same function.
func (b *Backend) handleContainerRestart(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if b.store.Snap(ctr).Status == stateRunning {
		if err := b.stop(ctr, c.Param("id"), c.Query("t"), c.Query("signal")); err != nil {
			writeError(c, err)
			return
		}
	}
	if err := b.start(c.Request.Context(), ctr); err != nil && err != errAlreadyRunning {
		writeError(c, err)
		return
	}
	b.containerEvent(ctr, events.ActionRestart, nil)
	c.Status(http.StatusNoContent)
}

// stop sends the stop signal (the request's, the container's, or TERM) and,
// after the grace period (the request's t, the container's StopTimeout, or
// 10 s), SIGKILL; it returns when the container has stopped.
func (b *Backend) stop(ctr *Container, ref, t, sig string) error {
	grace := 10 * time.Second
	if ctr.Config.StopTimeout != nil {
		grace = time.Duration(*ctr.Config.StopTimeout) * time.Second
	}
	if t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return badRequest("invalid value for t: %s", t)
		}
		grace = time.Duration(n) * time.Second
	}
	if sig == "" {
		sig = ctr.Config.StopSignal
	}
	if sig == "" {
		sig = "TERM"
	}
	b.markStopped(ctr)
	if !b.kill(ctr, sig) {
		return conflict("cannot stop container %s: its agent is not connected, so no signal can reach it; the function runs until its command ends or Lambda's timeout", ref)
	}
	b.containerEvent(ctr, events.ActionKill, map[string]string{"signal": sig})
	if grace < 0 || !b.waitStopped(ctr, grace) {
		b.kill(ctr, "KILL")
		b.containerEvent(ctr, events.ActionKill, map[string]string{"signal": "KILL"})
		if !b.waitStopped(ctr, 30*time.Second) {
			return errorf(http.StatusInternalServerError, "container %s did not stop within 30s of SIGKILL", ref)
		}
	}
	b.containerEvent(ctr, events.ActionStop, nil)
	return nil
}
