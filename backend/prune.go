package backend

import (
	"net/http"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/gin-gonic/gin"
)

// handleContainerPrune serves POST /containers/prune: every container that
// is not running (and matches the until and label filters) is removed, its
// function deleted.
func (b *Backend) handleContainerPrune(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(map[string]bool{"until": true, "label": true, "label!": true})
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	var until time.Time
	for _, v := range args.Get("until") {
		if until, err = parseUntil(v); err != nil {
			writeError(c, badRequest("invalid filter 'until=%s': %s", v, err))
			return
		}
	}
	report := container.PruneReport{ContainersDeleted: []string{}}
	for _, ctr := range b.store.List() {
		snap := b.store.Snap(ctr)
		if snap.Status == stateRunning || snap.Status == stateRemoving {
			continue
		}
		if !until.IsZero() && !ctr.Created.Before(until) {
			continue
		}
		if args.Contains("label") && !args.MatchKVList("label", ctr.Config.Labels) {
			continue
		}
		if args.Contains("label!") && args.MatchKVList("label!", ctr.Config.Labels) {
			continue
		}
		if err := b.removeContainer(c.Request.Context(), ctr); err != nil {
			continue
		}
		report.ContainersDeleted = append(report.ContainersDeleted, ctr.ID)
	}
	writeJSON(c, http.StatusOK, report)
}

// parseUntil reads a prune filter's until: a Unix timestamp or a duration
// back from now, as the docker CLI sends them.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return parseDockerTime(v)
}
