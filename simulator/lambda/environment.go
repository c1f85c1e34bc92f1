package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/strslice"
)

// sandboxUser is Lambda's least-privileged default user: images must run
// without root, so the simulator runs them that way too.
const sandboxUser = "993:990"

// environment is one execution environment: a container on the local Docker
// engine, its Runtime API listener and its log stream. It runs one
// invocation at a time.
type environment struct {
	svc     *Service
	fn      *function
	conf    functionConfiguration // as the function was when the environment started
	name    string
	id      string // container ID
	group   string
	stream  string
	started time.Time // container start: the init phase begins

	api  *http.Server
	out  *logSink
	apiL net.Listener

	ready      chan struct{}    // closed at the first /next: init is done
	events     chan *invocation // handed to the runtime's /next
	results    chan runtimeResult
	initFailed chan struct{} // closed by /runtime/init/error
	initErr    []byte
	exited     chan struct{} // closed when the container has stopped
	exitCode   int
	oomKilled  bool

	runMu        sync.Mutex                 // one invocation at a time, its END and REPORT included
	current      atomic.Pointer[invocation] // the invocation the runtime holds
	initEnd      atomic.Int64               // unix nanos of the first /next: init done
	invocations  int                        // completed, so the first one is the cold start
	gen          int                        // the function's generation it runs
	idleTimer    *time.Timer                // guarded by svc.mu
	dead         atomic.Bool
	destroyOnce  sync.Once
	initFailOnce sync.Once
}

// runtimeResult is what the runtime posted for an invocation.
type runtimeResult struct {
	id      string
	payload []byte
	errType string // "" for a response; the function error otherwise
}

// startEnvironment pulls the image, starts the Runtime API and the
// container, and follows the container's output into CloudWatch.
func (s *Service) startEnvironment(ctx context.Context, fn *function, conf functionConfiguration, pullRef string) (*environment, error) {
	host, err := s.docker.runtimeAPIHost(ctx)
	if err != nil {
		return nil, fmt.Errorf("find the Runtime API address: %w", err)
	}
	if err := s.docker.ensureImage(ctx, pullRef, s.images.EngineAuth()); err != nil {
		return nil, err
	}
	if err := s.docker.checkArchitecture(ctx, pullRef, conf); err != nil {
		return nil, err
	}
	fsm, err := s.fsMounts(conf)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen for the Runtime API on %s: %w", host, err)
	}
	now := time.Now().UTC()
	e := &environment{
		svc: s, fn: fn, conf: conf,
		name:       "sim-lambda-" + conf.FunctionName + "-" + randomHex(4),
		group:      conf.LoggingConfig.LogGroup,
		apiL:       ln,
		ready:      make(chan struct{}),
		events:     make(chan *invocation),
		results:    make(chan runtimeResult, 1),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
	}
	// AWS names streams after the date, the version and a random id; a custom
	// group's streams also carry the function's name.
	e.stream = now.Format("2006/01/02/") + "[$LATEST]" + randomHex(16)
	if e.group != "/aws/lambda/"+conf.FunctionName {
		e.stream = now.Format("2006/01/02/") + conf.FunctionName + "[$LATEST]" + randomHex(16)
	}
	// The Runtime API must never time out a write: /next long-polls for as
	// long as the environment stays idle.
	e.api = &http.Server{Handler: e.runtimeAPI(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = e.api.Serve(ln) }()

	if err := s.logs.EnsureLogStream(e.group, e.stream); err != nil {
		_ = e.api.Close()
		return nil, fmt.Errorf("create log stream %s %s: %w", e.group, e.stream, err)
	}
	e.out = newLogSink(s.logs, e.group, e.stream)

	cfg, hostCfg := e.containerConfig(pullRef, ln.Addr().String(), fsm)
	created, err := s.docker.client.ContainerCreate(ctx, cfg, hostCfg, nil, nil, e.name)
	if err != nil {
		e.out.close()
		_ = e.api.Close()
		return nil, fmt.Errorf("create container for %s: %w", conf.FunctionName, err)
	}
	e.id = created.ID
	e.started = time.Now()
	if err := s.docker.client.ContainerStart(ctx, e.id, container.StartOptions{}); err != nil {
		e.removeContainer()
		e.out.close()
		_ = e.api.Close()
		return nil, fmt.Errorf("start container %s: %w", e.name, err)
	}
	s.live.Add(1) // until destroy
	go e.followLogs()
	go e.waitExit()
	slog.Info("lambda: environment started", "function", conf.FunctionName, "container", e.name, "runtimeAPI", ln.Addr().String(), "stream", e.stream)
	return e, nil
}

// envMounts is what an environment's file systems add to its container.
type envMounts struct {
	mounts []mount.Mount
	user   string   // the identity the environment runs as
	groups []string // supplementary groups
	caps   []string // capabilities kept, all others dropped; nil keeps the engine's default
}

func (e *environment) containerConfig(pullRef, runtimeAPI string, fsm envMounts) (*container.Config, *container.HostConfig) {
	c := e.conf
	env := map[string]string{}
	if c.Environment != nil {
		for k, v := range c.Environment.Variables {
			env[k] = v
		}
	}
	for k, v := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        c.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(int(c.MemorySize)),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       e.group,
		"AWS_LAMBDA_LOG_STREAM_NAME":      e.stream,
		"AWS_REGION":                      e.svc.cfg.Region,
		"AWS_DEFAULT_REGION":              e.svc.cfg.Region,
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_ACCESS_KEY_ID":               "ASIASIMULATORLAMBDA0",
		"AWS_SECRET_ACCESS_KEY":           "simulator-secret-access-key",
		"AWS_SESSION_TOKEN":               "simulator-session-token",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
	} {
		if _, set := env[k]; !set || k != "TZ" {
			env[k] = v
		}
	}
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)

	cfg := &container.Config{
		Image: pullRef,
		Env:   list,
		User:  fsm.user,
		Labels: map[string]string{
			labelSimulator: "1",
			labelFunction:  c.FunctionName,
			labelInstance:  e.svc.instance,
			labelHost:      hostname(),
			labelPID:       strconv.Itoa(osPID),
			labelRuntime:   runtimeAPI,
		},
	}
	if ic := c.ImageConfigResponse; ic != nil && ic.ImageConfig != nil {
		if ic.ImageConfig.EntryPoint != nil {
			cfg.Entrypoint = strslice.StrSlice(ic.ImageConfig.EntryPoint)
		}
		if ic.ImageConfig.Command != nil {
			cfg.Cmd = strslice.StrSlice(ic.ImageConfig.Command)
		}
		cfg.WorkingDir = ic.ImageConfig.WorkingDirectory
	}
	mem := int64(c.MemorySize) << 20
	hostCfg := &container.HostConfig{
		ExtraHosts:     []string{"host.docker.internal:host-gateway"},
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": fmt.Sprintf("rw,nosuid,nodev,size=%dm,mode=1777", c.EphemeralStorage.Size)},
		LogConfig:      container.LogConfig{Type: "json-file"},
		Resources:      container.Resources{Memory: mem, MemorySwap: mem},
		Mounts:         fsm.mounts,
		GroupAdd:       fsm.groups,
	}
	if fsm.caps != nil {
		hostCfg.CapDrop, hostCfg.CapAdd = []string{"ALL"}, fsm.caps
	}
	return cfg, hostCfg
}

// waitExit records how the container ended. An idle environment whose
// container exits is discarded at once.
func (e *environment) waitExit() {
	okC, errC := e.svc.docker.client.ContainerWait(context.Background(), e.id, container.WaitConditionNotRunning)
	select {
	case r := <-okC:
		e.exitCode = int(r.StatusCode)
	case err := <-errC:
		slog.Warn("lambda: waiting for container", "container", e.name, "err", err)
		e.exitCode = -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if ins, err := e.svc.docker.client.ContainerInspect(ctx, e.id); err == nil && ins.State != nil {
		e.oomKilled = ins.State.OOMKilled
		e.exitCode = ins.State.ExitCode
	}
	cancel()
	close(e.exited)
	if e.svc.takeIdle(e) {
		go e.destroy("runtime exited while idle")
	}
}

// exitReason is how Lambda words a runtime's exit in Runtime.ExitError.
func (e *environment) exitReason() string {
	switch {
	case e.oomKilled || e.exitCode == 137:
		return "Runtime exited with error: signal: killed"
	case e.exitCode > 128 && e.exitCode < 160:
		return "Runtime exited with error: signal: " + strconv.Itoa(e.exitCode-128)
	case e.exitCode != 0:
		return "Runtime exited with error: exit status " + strconv.Itoa(e.exitCode)
	}
	return "Runtime exited without providing a reason"
}

// kill stops the container at once, as Lambda does on a timeout.
func (e *environment) kill() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-e.exited:
		return
	default:
	}
	if err := e.svc.docker.client.ContainerKill(ctx, e.id, "KILL"); err != nil && !errdefsNotFound(err) && !strings.Contains(err.Error(), "is not running") {
		slog.Warn("lambda: kill container", "container", e.name, "err", err)
	}
	select {
	case <-e.exited:
	case <-ctx.Done():
	}
}

// destroy ends the environment: the container is killed, its output drained
// into CloudWatch, then the container and the Runtime API removed.
func (e *environment) destroy(reason string) {
	e.destroyOnce.Do(func() {
		defer e.svc.live.Done()
		e.dead.Store(true)
		e.svc.forget(e)
		e.kill()
		e.out.drain(5 * time.Second)
		e.out.close()
		e.removeContainer()
		_ = e.api.Close()
		slog.Info("lambda: environment removed", "function", e.conf.FunctionName, "container", e.name, "reason", reason)
	})
}

func (e *environment) removeContainer() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.svc.docker.client.ContainerRemove(ctx, e.id, container.RemoveOptions{Force: true}); err != nil && !errdefsNotFound(err) {
		slog.Warn("lambda: remove container", "container", e.name, "err", err)
	}
}

// maxMemoryMB is the container's peak memory use, for REPORT lines, read
// from its cgroup: the engine's stats endpoint answers only once a second.
// Where the cgroup is not visible (another host, another layout) it is 0.
func (e *environment) maxMemoryMB() int {
	for _, p := range []string{
		"/sys/fs/cgroup/memory/docker/" + e.id + "/memory.max_usage_in_bytes", // v1, cgroupfs driver
		"/sys/fs/cgroup/memory/system.slice/docker-" + e.id + ".scope/memory.max_usage_in_bytes",
		"/sys/fs/cgroup/system.slice/docker-" + e.id + ".scope/memory.peak", // v2, systemd driver
		"/sys/fs/cgroup/docker/" + e.id + "/memory.peak",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return int((n + 1<<20 - 1) >> 20)
		}
	}
	return 0
}

// destroyAll destroys environments in parallel and waits, up to ctx.
func destroyAll(ctx context.Context, envs []*environment, reason string) {
	var wg sync.WaitGroup
	for _, e := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.destroy(reason)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
