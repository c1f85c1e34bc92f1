package backend

import (
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// agentHello records what an agent's hello says about its run: where its
// output goes in CloudWatch, durably in the container's journal.
func (b *Backend) agentHello(r *run, m protocol.Message) {
	c := r.container
	added := false
	b.store.Update(c, func(c *Container) {
		if m.LogStream != "" && !contains(c.logStreams, m.LogStream) {
			c.logStreams = append(c.logStreams, m.LogStream)
			added = true
		}
		if m.Pid > 0 {
			c.pid = m.Pid
		}
	})
	if added {
		b.journal.append(c, journalEntry{Kind: entryLogStream, LogStream: m.LogStream})
	}
}

// recordExit records the end of a run: state, waiters woken, and the exit
// durably in the container's journal.
func (b *Backend) recordExit(c *Container, code int, errMsg string, at time.Time) {
	var started time.Time
	b.store.Update(c, func(c *Container) {
		started = c.startedAt
		c.status = stateExited
		c.paused = false
		c.exitCode = code
		c.errMsg = errMsg
		c.finishedAt = at
		c.pid = 0
		c.exits++
	})
	b.journal.append(c, journalEntry{Kind: entryExit, ExitCode: &code, Error: errMsg, Time: at})
	b.containerEvent(c, events.ActionDie, map[string]string{
		"exitCode": strconv.Itoa(code), "execDuration": strconv.Itoa(int(at.Sub(started).Seconds())),
	})
}
