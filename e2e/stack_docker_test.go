package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// With SOCKERLESS_E2E_STACK=docker (`make docker-test`) the simulator and the
// backend run as containers on the local engine, from the images that
// scripts/build-stack-images.sh builds FROM scratch. They share the host's
// network (the engine pulls function images from the simulator's registry on
// 127.0.0.1, and the functions reach the backend on the bridge gateway, as
// with local processes) and its PID namespace (the simulator tells its own
// leftover environments from other simulators' by process ID). The simulator
// gets the engine's socket.
const (
	simulatorImage = "sockerless/simulator-aws:dev"
	backendImage   = "sockerless/backend-lambda:dev"
)

// stackctl is the e2e/stackctl command, built once: it starts a stack
// container with testcontainers-go.
var (
	stackctlOnce sync.Once
	stackctlPath string
	stackctlErr  error
)

func buildStackctl() (string, error) {
	stackctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sockerless-stackctl-")
		if err != nil {
			stackctlErr = err
			return
		}
		stackctlPath = filepath.Join(dir, "stackctl")
		out, err := exec.Command("go", "build", "-o", stackctlPath, "./stackctl").CombinedOutput()
		if err != nil {
			stackctlErr = fmt.Errorf("build e2e/stackctl: %w\n%s", err, out)
		}
	})
	return stackctlPath, stackctlErr
}

// spawnContainer starts image as a stack process: created and started by
// testcontainers-go (in stackctl), then followed with the Docker SDK.
func (s *stack) spawnContainer(image string, withSocket bool, env ...string) (*proc, error) {
	ctx := context.Background()
	engineHost := envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock")
	cli, err := client.NewClientWithOpts(client.WithHost(engineHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	ctl, err := buildStackctl()
	if err != nil {
		return nil, err
	}
	args := []string{"-image", image}
	for _, kv := range env {
		args = append(args, "-env", kv)
	}
	if withSocket {
		// The EFS directory at the same path: the engine mounts it into
		// functions by the simulator's path for it.
		args = append(args, "-bind", "/var/run/docker.sock:/var/run/docker.sock", "-bind", s.efsDir+":"+s.efsDir)
	}
	cmd := exec.Command(ctl, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+engineHost, "TESTCONTAINERS_RYUK_DISABLED=true", "DOCKER_CONTEXT=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("start a %s container with testcontainers-go (run scripts/build-stack-images.sh first): %w: %s", image, err, stderr.String())
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return nil, fmt.Errorf("stackctl printed no container ID: %s", stderr.String())
	}
	created := struct{ ID string }{lines[len(lines)-1]}
	p := &proc{name: image, out: &safeBuffer{}, exited: make(chan struct{})}
	p.signal = func(sig string) { _ = cli.ContainerKill(ctx, created.ID, sig) }
	go func() {
		if logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}); err == nil {
			_, _ = stdcopy.StdCopy(p.out, p.out, logs)
			logs.Close()
		}
	}()
	go func() {
		wait, errc := cli.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
		select {
		case <-wait:
		case <-errc:
		}
		time.Sleep(100 * time.Millisecond) // let the log copy finish
		_ = cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
		cli.Close()
		close(p.exited)
	}()
	s.procs = append(s.procs, p)
	return p, nil
}
