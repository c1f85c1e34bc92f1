package backend

import (
	"net/http"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/gin-gonic/gin"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// agentTimeout bounds how long a request to an agent (top, pause) may take.
const agentTimeout = 10 * time.Second

// controlRun is the running container's run, for the handlers below.
func (b *Backend) controlRun(c *gin.Context) (*Container, *run, bool) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return nil, nil, false
	}
	r, err := b.runningRun(ctr)
	if err != nil {
		writeError(c, conflict("Container %s is not running", ctr.ID))
		return nil, nil, false
	}
	return ctr, r, true
}

// handleContainerTop serves GET /containers/{id}/top: the agent lists the
// container's processes from /proc as `ps <ps_args>` (default -ef) shows them,
// with procps's columns. A failure is answered as dockerd answers a failing
// ps: 500 with ps's message (ps: error: ...), or dockerd's own ("Couldn't
// find PID field in ps output").
func (b *Backend) handleContainerTop(c *gin.Context) {
	_, r, ok := b.controlRun(c)
	if !ok {
		return
	}
	reply, err := r.request(protocol.Message{Type: protocol.MsgTop, PsArgs: c.Query("ps_args")}, agentTimeout)
	if err != nil {
		writeError(c, err)
		return
	}
	top := container.TopResponse{Titles: []string{}, Processes: [][]string{}}
	if reply.Top != nil {
		top.Titles, top.Processes = reply.Top.Titles, reply.Top.Processes
	}
	c.JSON(http.StatusOK, top)
}

// handleContainerPause serves POST /containers/{id}/pause and unpause:
// SIGSTOP or SIGCONT to every process of the container.
func (b *Backend) handleContainerPause(pause bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctr, r, ok := b.controlRun(c)
		if !ok {
			return
		}
		if b.store.Snap(ctr).Paused == pause {
			if pause {
				writeError(c, conflict("Container %s is already paused", ctr.ID))
			} else {
				writeError(c, conflict("Container %s is not paused", ctr.ID))
			}
			return
		}
		msg := protocol.Message{Type: protocol.MsgUnpause}
		if pause {
			msg.Type = protocol.MsgPause
		}
		if _, err := r.request(msg, agentTimeout); err != nil {
			writeError(c, err)
			return
		}
		b.store.Update(ctr, func(c *Container) { c.paused = pause })
		action := events.ActionUnPause
		if pause {
			action = events.ActionPause
		}
		b.containerEvent(ctr, action, nil)
		c.Status(http.StatusNoContent)
	}
}

// handleContainerResize serves POST /containers/{id}/resize: the main
// process's TTY.
func (b *Backend) handleContainerResize(c *gin.Context) {
	_, r, ok := b.controlRun(c)
	if !ok {
		return
	}
	h, w, err := resizeQuery(c)
	if err != nil {
		writeError(c, err)
		return
	}
	r.send(protocol.Message{Type: protocol.MsgResize, Width: w, Height: h})
	c.Status(http.StatusOK)
}
