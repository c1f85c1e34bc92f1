package backend

import (
	"net/http"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/gin-gonic/gin"
)

// handleContainerInspect serves GET /containers/{id}/json.
func (b *Backend) handleContainerInspect(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	snap := b.store.Snap(ctr)
	cfg := *ctr.Config
	cfg.Env = processEnv(ctr)
	cfg.Hostname = ctr.hostname()
	if len(cfg.Cmd) == 0 && len(ctr.Config.Entrypoint) == 0 {
		cfg.Cmd = ctr.Image.Config.Config.Cmd
	}
	if len(cfg.Entrypoint) == 0 {
		cfg.Entrypoint = ctr.Image.Config.Config.Entrypoint
	}
	cfg.WorkingDir = ctr.workingDir()
	cfg.User = ctr.user()
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	resp := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: ctr.ID, Created: ctr.Created.Format(time.RFC3339Nano),
			Path: ctr.Path, Args: nonNil(ctr.Args),
			State: &container.State{
				Status: snap.dockerState(), Running: snap.Status == stateRunning, Paused: snap.Paused, Pid: snap.Pid,
				Restarting: snap.Restarting,
				ExitCode:   snap.ExitCode, Error: snap.Error,
				StartedAt: dockerTime(snap.StartedAt), FinishedAt: dockerTime(snap.FinishedAt),
				Health: snap.Health,
			},
			Image: ctr.Image.ID, Name: snap.Name, RestartCount: snap.Restarts,
			Driver: "lambda", Platform: "linux", HostConfig: snap.HostConfig,
			LogPath: "cloudwatch:" + ctr.LogGroup,
		},
		Mounts:          b.mountPoints(ctr),
		Config:          &cfg,
		NetworkSettings: &container.NetworkSettings{Networks: snap.Networks},
	}
	writeJSON(c, http.StatusOK, resp)
}

// dockerTime formats a time as Docker does, with the zero time for "never".
func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
