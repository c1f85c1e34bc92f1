package e2e

import (
	"context"
	"fmt"

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

// spawnContainer starts image as a stack process.
func (s *stack) spawnContainer(image string, withSocket bool, env ...string) (*proc, error) {
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.WithHost(envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock")), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	hc := &container.HostConfig{NetworkMode: "host", PidMode: "host", AutoRemove: false}
	if withSocket {
		// The EFS directory at the same path: the engine mounts it into
		// functions by the simulator's path for it.
		hc.Binds = []string{"/var/run/docker.sock:/var/run/docker.sock", s.efsDir + ":" + s.efsDir}
	}
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Env: env, Labels: map[string]string{"sockerless-e2e": "stack"}}, hc, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("create a %s container (run scripts/build-stack-images.sh first): %w", image, err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("start %s: %w", image, err)
	}
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
