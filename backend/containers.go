package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/namesgenerator"
	"github.com/gin-gonic/gin"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// containerNameRE is Docker's name rule, except that a one-character name
// such as "x" is accepted (Docker's pattern requires two characters; nothing
// depends on that refusal, and users expect `--name x` to work).
var containerNameRE = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// handleContainerCreate serves POST /containers/create: the image is resolved,
// its derived image ensured in ECR, and the function created and Active
// before the answer.
func (b *Backend) handleContainerCreate(c *gin.Context) {
	var req container.CreateRequest
	if err := json.NewDecoder(c.Request.Body).Decode(&req); err != nil && err != io.EOF {
		writeError(c, badRequest("invalid JSON: %s", err))
		return
	}
	if req.Config == nil {
		req.Config = &container.Config{}
	}
	if req.HostConfig == nil {
		req.HostConfig = &container.HostConfig{}
	}
	if req.NetworkingConfig == nil {
		req.NetworkingConfig = &network.NetworkingConfig{}
	}
	name := c.Query("name")
	if name != "" && !containerNameRE.MatchString(name) {
		writeError(c, badRequest("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
		return
	}
	if req.Image == "" {
		writeError(c, badRequest("No image specified"))
		return
	}
	if err := b.registry.checkPlatform(c.Query("platform")); err != nil {
		writeError(c, err)
		return
	}
	warnings, err := checkHostConfig(req.HostConfig, req.Config)
	if err != nil {
		writeError(c, err)
		return
	}
	nets, err := b.checkCreateNetworks(req.NetworkingConfig, string(req.HostConfig.NetworkMode))
	if err != nil {
		writeError(c, err)
		return
	}
	if len(nets) > 0 {
		warnings = append(warnings, noTrafficWarning)
	}
	img, ok := b.store.LookupImage(req.Image)
	if !ok {
		// 404 makes the docker CLI pull and create again.
		shown := req.Image
		if named, err := normalizeImageRef(req.Image); err == nil {
			shown = familiarString(named)
		}
		writeError(c, errNoSuchImage(shown))
		return
	}
	ctr := &Container{
		ID: newID(), Created: time.Now().UTC(),
		Config: req.Config, HostConfig: req.HostConfig, NetworkingConfig: req.NetworkingConfig,
		Image: img, LogGroup: b.cfg.LogGroup,
	}
	ctr.FunctionName = functionName(ctr.ID)
	if w := userWarning(ctr.user()); w != "" {
		warnings = append(warnings, w)
	}
	ctr.Path, ctr.Args = processArgs(req.Config, img)
	if ctr.Path == "" {
		writeError(c, badRequest("no command specified"))
		return
	}
	if req.Config.OpenStdin {
		ctr.stdin = newStdinPipe()
	}
	if name == "" {
		for name = namesgenerator.GetRandomName(0); b.store.NameInUse("/" + name); {
			name = namesgenerator.GetRandomName(1)
		}
	}
	name = "/" + strings.TrimPrefix(name, "/")
	// From resolving the volumes to reserving the container, no volume it
	// mounts can be removed: docker volume rm waits, then sees it in use.
	b.volumes.use.RLock()
	mounts, mountWarnings, err := b.resolveMounts(req.Config, req.HostConfig, img)
	if err == nil {
		ctr.Mounts, warnings = mounts, append(warnings, mountWarnings...)
		if err = b.store.Reserve(ctr, name); err != nil {
			b.volumes.use.RUnlock()
			b.removeAnonymousVolumes(ctr)
			writeError(c, err)
			return
		}
	}
	b.volumes.use.RUnlock()
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	uri, err := b.deriver.Derive(ctx, img, imageLinks(ctr.Mounts), imageSeeds(ctr.Mounts))
	if err == nil {
		err = b.createFunction(ctx, ctr, uri, name)
	}
	if err == nil {
		if err = b.journal.create(ctx, ctr, name); err != nil {
			_ = b.deleteFunction(context.WithoutCancel(ctx), ctr)
		}
	}
	if err != nil {
		b.store.Remove(ctr)
		b.removeAnonymousVolumes(ctr)
		slog.Error("container create failed", "err", err)
		writeError(c, err)
		return
	}
	for _, nw := range nets {
		_ = b.connect(nw, ctr, req.NetworkingConfig.EndpointsConfig[nw.Name])
	}
	slog.Info("container created", "container", ctr.ID[:12], "name", name, "function", ctr.FunctionName)
	b.containerEvent(ctr, events.ActionCreate, nil)
	writeJSON(c, http.StatusCreated, container.CreateResponse{ID: ctr.ID, Warnings: nonNil(warnings)})
}

// processArgs resolves the command as Docker does: the request's Entrypoint
// replaces the image's (and drops the image's Cmd); the request's Cmd
// replaces the image's Cmd.
func processArgs(cfg *container.Config, img *Image) (string, []string) {
	ic := img.Config.Config
	entrypoint, cmd := ic.Entrypoint, ic.Cmd
	if len(cfg.Entrypoint) > 0 {
		entrypoint, cmd = cfg.Entrypoint, nil
	}
	if len(cfg.Cmd) > 0 {
		cmd = cfg.Cmd
	}
	argv := append(append([]string{}, entrypoint...), cmd...)
	if len(argv) == 0 || argv[0] == "" {
		return "", nil
	}
	return argv[0], argv[1:]
}

// processEnv is the image's environment overlaid with the container's, with
// Docker's defaults for PATH and HOSTNAME.
func processEnv(c *Container) []string {
	env := []string{}
	index := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			env[i] = kv
			return
		}
		index[k] = len(env)
		env = append(env, kv)
	}
	set("HOSTNAME=" + c.hostname())
	for _, kv := range c.Image.Config.Config.Env {
		set(kv)
	}
	for _, kv := range c.Config.Env {
		if !strings.Contains(kv, "=") {
			continue // "docker run -e NAME" with NAME unset on the client
		}
		set(kv)
	}
	if _, ok := index["PATH"]; !ok {
		set("PATH=" + defaultPath)
	}
	return env
}

func (c *Container) hostname() string {
	if c.Config.Hostname != "" {
		return c.Config.Hostname
	}
	return c.ID[:12]
}

func (c *Container) workingDir() string {
	if c.Config.WorkingDir != "" {
		return c.Config.WorkingDir
	}
	return c.Image.Config.Config.WorkingDir
}

// userWarning says that a USER (the image's or -u) is not honoured: Lambda
// runs every function as one unprivileged user, which cannot switch to
// another, so the process runs as that user. Refusing instead would refuse
// every image that sets USER and every CI runner's -u $(id -u).
func userWarning(user string) string {
	if user == "" {
		return ""
	}
	return fmt.Sprintf("User %q is not honoured: Lambda runs every function as one unprivileged user, and the container's processes run as that user.", user)
}

func (c *Container) user() string {
	if c.Config.User != "" {
		return c.Config.User
	}
	return c.Image.Config.Config.User
}

// errAlreadyRunning answers a start of a running container: 304.
var errAlreadyRunning = errors.New("already running")

// handleContainerStart serves POST /containers/{id}/start: one asynchronous
// invocation of the function.
func (b *Backend) handleContainerStart(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if err := b.start(c.Request.Context(), ctr); err != nil {
		if err == errAlreadyRunning {
			c.Status(http.StatusNotModified)
			return
		}
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// start is a start by the user (docker start, restart, run): as dockerd, it
// resets the restart policy's count and backoff.
func (b *Backend) start(ctx context.Context, ctr *Container) error {
	return b.startRun(ctx, ctr, true, nil)
}

// errNotDue is a policy start that is no longer wanted.
var errNotDue = errors.New("no longer due")

// startRun begins a run. The state is checked and set in one step, with
// cond (if any) checked there too, so that two starts, or a start and a
// docker stop, cannot cross.
func (b *Backend) startRun(ctx context.Context, ctr *Container, byUser bool, cond func(*Container) bool) error {
	inv := b.agents.sign(b.invocationFor(ctr, ""))
	r := newRun(ctr, inv.Token, inv)
	var refused error
	var before struct { // the exit a failed policy start goes back to
		status                string
		startedAt, finishedAt time.Time
		exitCode              int
	}
	b.store.Update(ctr, func(c *Container) {
		before.status, before.startedAt, before.finishedAt, before.exitCode = c.status, c.startedAt, c.finishedAt, c.exitCode
		switch {
		case c.status == stateRunning:
			refused = errAlreadyRunning
		case c.status == stateRemoving || c.removed:
			refused = conflict("container is marked for removal and cannot be started")
		case cond != nil && !cond(c):
			refused = errNotDue
		default:
			c.status = stateRunning
			c.startedAt = time.Now().UTC()
			c.finishedAt = time.Time{}
			c.exitCode = 0
			c.errMsg = ""
			c.run = r
			c.health = nil
			c.manualStop = false
			c.restarting = false
			if byUser {
				c.restarts, c.restartDelay = 0, 0
			}
		}
	})
	if refused != nil {
		return refused
	}
	b.agents.issue(r)
	requestID, err := b.invoke(ctx, ctr, inv)
	if err != nil {
		// The process never ran: the container did not start. Whoever
		// waits on the run (a docker logs -f) learns it is over.
		b.agents.revoke(r)
		r.endOnce.Do(func() { close(r.done) })
		b.store.Update(ctr, func(c *Container) {
			c.run = nil
			if !byUser {
				// A restart by the policy that failed leaves the exited
				// container as it was; the policy tries again.
				c.status, c.startedAt, c.finishedAt, c.exitCode = before.status, before.startedAt, before.finishedAt, before.exitCode
				c.errMsg = err.Error()
				return
			}
			c.status = stateCreated
			c.startedAt = time.Time{}
			c.errMsg = err.Error()
			c.exitCode = 128
		})
		if ctr.HostConfig.AutoRemove {
			go func() {
				if b.removeContainer(context.WithoutCancel(ctx), ctr) == nil {
					b.removeAnonymousVolumes(ctr)
				}
			}()
		}
		return err
	}
	r.mu.Lock()
	if r.requestID == "" {
		r.requestID = requestID
	}
	r.mu.Unlock()
	b.journal.append(ctr, journalEntry{Kind: entryStart, Time: b.store.Snap(ctr).StartedAt, RequestID: requestID, RunID: inv.RunID, ByUser: byUser})
	b.startHealthchecks(ctr, r)
	b.containerEvent(ctr, events.ActionStart, nil)
	slog.Info("container started", "container", ctr.ID[:12], "function", ctr.FunctionName, "request", requestID)
	// Until its agent connects (and if it never can), the run is followed
	// through CloudWatch.
	go b.watchRun(r, 10*time.Second)
	return nil
}

// invocationFor is the payload that starts a run of c: its process and the
// run's token.
func (b *Backend) invocationFor(c *Container, token string) protocol.Invocation {
	inv := protocol.Invocation{
		Version:     protocol.Version,
		ContainerID: c.ID,
		CallbackURL: b.cfg.CallbackURL,
		Token:       token,
		Process: protocol.Process{
			Args:        append([]string{c.Path}, c.Args...),
			Env:         processEnv(c),
			WorkingDir:  c.workingDir(),
			Tty:         c.Config.Tty,
			OpenStdin:   c.Config.OpenStdin,
			ConsoleSize: c.HostConfig.ConsoleSize,
		},
		Mounts: b.agentMounts(c),
	}
	if usesEFS(c.Mounts) {
		inv.Purge = b.volumes.pendingPurge()
	}
	return inv
}

// handleContainerWait serves POST /containers/{id}/wait. The 200 headers go
// out at once: the docker CLI starts the container only after they arrive.
func (b *Backend) handleContainerWait(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	cond := container.WaitCondition(c.Query("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		writeError(c, badRequest("invalid condition: %q", cond))
		return
	}
	start := b.store.Snap(ctr)
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
	c.Writer.Flush()
	snap := start
	for {
		done := false
		switch cond {
		case container.WaitConditionNextExit:
			done = snap.Exits > start.Exits || snap.Removed
		case container.WaitConditionRemoved:
			done = snap.Removed
		default:
			done = snap.Status != stateRunning || snap.Removed
		}
		if done {
			resp := container.WaitResponse{StatusCode: int64(snap.ExitCode)}
			if snap.Error != "" && snap.StartedAt.IsZero() {
				// The container never ran: its start failed.
				resp.Error = &container.WaitExitError{Message: snap.Error}
			}
			_ = json.NewEncoder(c.Writer).Encode(resp)
			return
		}
		select {
		case <-snap.Changed:
			snap = b.store.Snap(ctr)
		case <-c.Request.Context().Done():
			return
		}
	}
}

// handleContainerDelete serves DELETE /containers/{id}.
func (b *Backend) handleContainerDelete(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	snap := b.store.Snap(ctr)
	if snap.Status == stateRunning {
		if !boolQuery(c, "force") {
			writeError(c, conflict("cannot remove container %q: container is running: stop the container before removing or force remove", snap.Name))
			return
		}
		b.kill(ctr, "KILL")
		b.waitStopped(ctr, 10*time.Second)
	}
	if err := b.removeContainer(c.Request.Context(), ctr); err != nil {
		writeError(c, err)
		return
	}
	if boolQuery(c, "v") {
		b.removeAnonymousVolumes(ctr)
	}
	c.Status(http.StatusNoContent)
}

// removeContainer deletes the function, then forgets the container, which
// resolves `wait --condition=removed`.
func (b *Backend) removeContainer(ctx context.Context, ctr *Container) error {
	var already bool
	b.store.Update(ctr, func(c *Container) {
		already = c.status == stateRemoving || c.removed
		if !already {
			c.status = stateRemoving
		}
	})
	if already {
		return conflict("removal of container %s is already in progress", ctr.ID)
	}
	if err := b.deleteFunction(ctx, ctr); err != nil {
		b.store.Update(ctr, func(c *Container) { c.status = stateExited })
		return err
	}
	if r := b.store.Snap(ctr).Run; r != nil {
		b.agents.revoke(r)
	}
	// Off its networks first: that is journaled, and the journal goes next.
	for name := range b.store.Snap(ctr).Networks {
		if nw, err := b.networks.lookup(name); err == nil {
			b.disconnect(nw, ctr)
		}
	}
	// As docker rm removes a container's log file: its output goes too.
	for _, stream := range b.store.Snap(ctr).LogStreams {
		if err := b.deleteLogStream(ctx, ctr.LogGroup, stream); err != nil {
			slog.Error("container log stream not deleted", "container", ctr.ID[:12], "stream", stream, "err", err)
		}
	}
	if err := b.journal.remove(ctx, ctr.ID); err != nil {
		slog.Error("container journal not deleted", "container", ctr.ID[:12], "err", err)
	}
	b.journal.locks.Delete(journalStream(ctr.ID))
	b.containerEvent(ctr, events.ActionDestroy, nil)
	b.store.Remove(ctr)
	slog.Info("container removed", "container", ctr.ID[:12], "function", ctr.FunctionName)
	return nil
}

func boolQuery(c *gin.Context, key string) bool {
	v := strings.ToLower(c.Query(key))
	return v == "1" || v == "true" || v == "yes"
}
