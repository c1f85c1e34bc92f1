package backend

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/gin-gonic/gin"
)

var psFilters = map[string]bool{
	"id": true, "name": true, "status": true, "label": true, "exited": true, "ancestor": true,
	"before": true, "since": true, "health": true, "network": true, "volume": true, "is-task": true,
	"isolation": true, "publish": true, "expose": true,
}

var containerStates = map[string]bool{
	"created": true, "restarting": true, "running": true, "removing": true, "paused": true, "exited": true, "dead": true,
}

// handleContainerList serves GET /containers/json from the backend's cache:
// no AWS call per container.
func (b *Backend) handleContainerList(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(psFilters)
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	for _, st := range args.Get("status") {
		if !containerStates[st] {
			writeError(c, badRequest("invalid filter 'status=%s'", st))
			return
		}
	}
	m, err := b.newContainerMatcher(args)
	if err != nil {
		writeError(c, err)
		return
	}
	all := boolQuery(c, "all")
	limit, _ := strconv.Atoi(c.Query("limit"))
	size := boolQuery(c, "size")
	out := []container.Summary{}
	for _, ctr := range b.store.List() {
		snap := b.store.Snap(ctr)
		if !all && limit <= 0 && snap.Status != stateRunning && !args.Contains("status") {
			continue
		}
		if !m.match(ctr, snap) {
			continue
		}
		s := summary(ctr, snap)
		s.Mounts = b.mountPoints(ctr)
		if size {
			// A function's only writable storage is its /tmp, which
			// Lambda discards with the environment.
			s.SizeRw, s.SizeRootFs = 0, ctr.Image.Size
		}
		out = append(out, s)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	writeJSON(c, http.StatusOK, out)
}

// containerMatcher applies `docker ps` filters.
type containerMatcher struct {
	args          filters.Args
	before, since time.Time // created before / after these containers
	ancestors     []string  // image IDs
}

func (b *Backend) newContainerMatcher(args filters.Args) (*containerMatcher, error) {
	m := &containerMatcher{args: args}
	for _, key := range []string{"before", "since"} {
		for _, ref := range args.Get(key) {
			other, err := b.store.Lookup(ref)
			if err != nil {
				return nil, err
			}
			if key == "before" {
				m.before = other.Created
			} else {
				m.since = other.Created
			}
		}
	}
	for _, ref := range args.Get("ancestor") {
		if img, ok := b.store.LookupImage(ref); ok {
			m.ancestors = append(m.ancestors, img.ID)
		} else {
			m.ancestors = append(m.ancestors, ref) // matches nothing but what was typed
		}
	}
	return m, nil
}

func (m *containerMatcher) match(ctr *Container, snap Snapshot) bool {
	args := m.args
	if args.Contains("id") && !args.Match("id", ctr.ID) {
		return false
	}
	if args.Contains("name") && !args.Match("name", snap.Name) && !args.Match("name", strings.TrimPrefix(snap.Name, "/")) {
		return false
	}
	if args.Contains("status") && !args.ExactMatch("status", snap.dockerState()) {
		return false
	}
	if args.Contains("label") && !args.MatchKVList("label", ctr.Config.Labels) {
		return false
	}
	if args.Contains("exited") && (snap.Status != stateExited || !args.ExactMatch("exited", strconv.Itoa(snap.ExitCode))) {
		return false
	}
	if !m.before.IsZero() && !ctr.Created.Before(m.before) {
		return false
	}
	if !m.since.IsZero() && !ctr.Created.After(m.since) {
		return false
	}
	if len(m.ancestors) > 0 && !contains(m.ancestors, ctr.Image.ID) && !contains(m.ancestors, ctr.Config.Image) {
		return false
	}
	if args.Contains("network") {
		found := false
		for name, es := range snap.Networks {
			if args.ExactMatch("network", name) || args.ExactMatch("network", es.NetworkID) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if args.Contains("health") {
		health := container.NoHealthcheck
		if snap.Health != nil && snap.Status == stateRunning {
			health = snap.Health.Status
		}
		if !args.ExactMatch("health", health) {
			return false
		}
	}
	if args.Contains("volume") {
		found := false
		for _, mt := range ctr.Mounts {
			found = found || args.ExactMatch("volume", mt.Path) || (mt.Name != "" && args.ExactMatch("volume", mt.Name))
		}
		if !found {
			return false
		}
	}
	if args.Contains("publish") || args.Contains("expose") {
		return false // no container publishes ports on Lambda
	}
	return true
}

func summary(ctr *Container, snap Snapshot) container.Summary {
	s := container.Summary{
		ID: ctr.ID, Names: []string{snap.Name}, Image: ctr.Config.Image, ImageID: ctr.Image.ID,
		Command: strings.Join(append([]string{ctr.Path}, ctr.Args...), " "),
		Created: ctr.Created.Unix(), Ports: []container.Port{}, Labels: ctr.Config.Labels,
		State: snap.dockerState(), Status: statusText(snap),
	}
	s.HostConfig.NetworkMode = string(ctr.HostConfig.NetworkMode)
	s.NetworkSettings = &container.NetworkSettingsSummary{Networks: snap.Networks}
	return s
}

// statusText is the human text `docker ps` shows.
func statusText(s Snapshot) string {
	switch s.Status {
	case stateRunning:
		if s.Paused {
			return "Up " + humanDuration(time.Since(s.StartedAt)) + " (Paused)"
		}
		if s.Health != nil {
			if s.Health.Status == container.Starting {
				return "Up " + humanDuration(time.Since(s.StartedAt)) + " (health: starting)"
			}
			return "Up " + humanDuration(time.Since(s.StartedAt)) + " (" + s.Health.Status + ")"
		}
		return "Up " + humanDuration(time.Since(s.StartedAt))
	case stateExited:
		if s.Restarting {
			return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
		}
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
	case stateRemoving:
		return "Removal In Progress"
	default:
		return "Created"
	}
}

func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case s < 120:
		return "About a minute"
	case s < 3600:
		return fmt.Sprintf("%d minutes", s/60)
	case s < 7200:
		return "About an hour"
	default:
		return fmt.Sprintf("%d hours", s/3600)
	}
}
