package backend

import (
	"net/http"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/gin-gonic/gin"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// statsInterval is how often a stream sends a sample, as dockerd's collector.
const statsInterval = time.Second

// statsPreSample is how long before its answer a stream=false request takes
// the sample its precpu_stats come from, so that the CPU % means something.
const statsPreSample = 500 * time.Millisecond

// handleContainerStats serves GET /containers/{id}/stats from the sandbox's
// own accounting, sampled by the agent (cgroup files where readable, /proc
// otherwise). stream=true (the default) sends one object a second, all-zero
// while the container is not running, until the client leaves or the
// container is removed; stream=false sends one, with precpu from a sample
// taken statsPreSample earlier, or none with one-shot=true, all-zero for a
// container that is not running, as from Docker.
func (b *Backend) handleContainerStats(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	stream := c.Query("stream") == "" || boolQuery(c, "stream")
	oneShot := boolQuery(c, "one-shot")
	if stream && oneShot {
		writeError(c, badRequest("cannot have stream=true and one-shot=true"))
		return
	}
	snap := b.store.Snap(ctr)
	zero := container.StatsResponse{Name: snap.Name, ID: ctr.ID}
	sample := func(r *run) (*protocol.Stats, error) {
		reply, err := r.request(protocol.Message{Type: protocol.MsgStats}, agentTimeout)
		if err != nil {
			return nil, err
		}
		if reply.Stats == nil {
			return nil, conflict("the container's agent sent no stats")
		}
		return reply.Stats, nil
	}

	if !stream {
		r, err := b.runningRun(ctr)
		if err != nil {
			writeJSON(c, http.StatusOK, zero)
			return
		}
		var pre *protocol.Stats
		if !oneShot {
			if pre, err = sample(r); err != nil {
				writeJSON(c, http.StatusOK, zero)
				return
			}
			select {
			case <-time.After(statsPreSample):
			case <-c.Request.Context().Done():
				return
			}
		}
		cur, err := sample(r)
		if err != nil {
			writeJSON(c, http.StatusOK, zero)
			return
		}
		writeJSON(c, http.StatusOK, statsResponse(zero, cur, pre))
		return
	}

	// As dockerd's collector: a sample a second while the container runs,
	// an all-zero object a second while it does not, until the client
	// leaves or the container is removed.
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
	c.Writer.Flush()
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	var pre *protocol.Stats
	for {
		out := zero
		var cur *protocol.Stats
		if r, err := b.runningRun(ctr); err == nil {
			if cur, err = sample(r); err == nil {
				out = statsResponse(zero, cur, pre)
			}
		}
		pre = cur
		if writeJSONLine(c.Writer, out) != nil {
			return
		}
		c.Writer.Flush()
		select {
		case <-tick.C:
		case <-c.Request.Context().Done():
			return
		}
		if b.store.Snap(ctr).Removed {
			return
		}
	}
}

// statsResponse maps the agent's sample (and the one before it, if any) onto
// Docker's shape.
func statsResponse(base container.StatsResponse, cur, pre *protocol.Stats) container.StatsResponse {
	s := base
	s.Read = cur.Time
	s.CPUStats = cpuStats(cur)
	if pre != nil {
		s.PreRead = pre.Time
		s.PreCPUStats = cpuStats(pre)
	}
	s.MemoryStats = container.MemoryStats{
		Usage: cur.MemoryUsage, MaxUsage: cur.MemoryMaxUsage, Limit: cur.MemoryLimit, Stats: cur.MemoryStats,
	}
	s.PidsStats = container.PidsStats{Current: cur.Pids, Limit: cur.PidsLimit}
	for _, e := range cur.BlockIO {
		s.BlkioStats.IoServiceBytesRecursive = append(s.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	if len(cur.Networks) > 0 {
		s.Networks = map[string]container.NetworkStats{}
		for name, n := range cur.Networks {
			s.Networks[name] = container.NetworkStats{
				RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
				TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
			}
		}
	}
	return s
}

func cpuStats(s *protocol.Stats) container.CPUStats {
	return container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: s.CPUTotalNs, UsageInUsermode: s.CPUUserNs, UsageInKernelmode: s.CPUKernelNs,
		},
		SystemUsage: s.SystemCPUNs,
		OnlineCPUs:  s.OnlineCPUs,
	}
}
