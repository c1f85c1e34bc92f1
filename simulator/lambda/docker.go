package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Labels on every execution-environment container.
const (
	labelSimulator = "sockerless-simulator"
	labelFunction  = "sockerless-simulator.function"
	labelInstance  = "sockerless-simulator.instance"
	labelHost      = "sockerless-simulator.host"
	labelPID       = "sockerless-simulator.pid"
	labelRuntime   = "sockerless-simulator.runtime-api" // the environment's Runtime API address
)

// dockerHost is the local Docker engine the environments run on.
type dockerHost struct {
	client *client.Client

	hostOnce sync.Once
	host     string // the Runtime API's IP, reachable from containers
	hostErr  error

	archOnce sync.Once
	arch     string // the engine's architecture, OCI name

	pullMu sync.Mutex
	pulls  map[string]*sync.Mutex // one pull at a time per image
	pulled []string               // the images this simulator pulled, under pullMu
}

func newDockerHost(runtimeAPIHost string) (*dockerHost, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	d := &dockerHost{client: c, pulls: map[string]*sync.Mutex{}}
	if runtimeAPIHost != "" {
		d.hostOnce.Do(func() { d.host = runtimeAPIHost })
	}
	return d, nil
}

// runtimeAPIHost is the bridge network's gateway: the host's address as the
// function containers see it, so their Runtime API traffic never leaves the
// machine.
func (d *dockerHost) runtimeAPIHost(ctx context.Context) (string, error) {
	d.hostOnce.Do(func() {
		d.host, d.hostErr = d.bridgeGateway(ctx)
	})
	return d.host, d.hostErr
}

func (d *dockerHost) bridgeGateway(ctx context.Context) (string, error) {
	nw, err := d.client.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect the bridge network: %w", err)
	}
	for _, c := range nw.IPAM.Config {
		if ip := net.ParseIP(c.Gateway); ip != nil && ip.To4() != nil {
			return c.Gateway, nil
		}
	}
	// The default bridge often reports no gateway: take its interface's address.
	ifname := nw.Options["com.docker.network.bridge.name"]
	if ifname == "" {
		ifname = "docker0"
	}
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return "", fmt.Errorf("bridge interface %s: %w", ifname, err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return "", fmt.Errorf("addresses of %s: %w", ifname, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", fmt.Errorf("bridge interface %s has no IPv4 address", ifname)
}

// ensureImage pulls ref unless the engine has it. ref is pinned by digest,
// so an image present locally is the right one.
func (d *dockerHost) ensureImage(ctx context.Context, ref, auth string) error {
	d.pullMu.Lock()
	mu := d.pulls[ref]
	if mu == nil {
		mu = &sync.Mutex{}
		d.pulls[ref] = mu
	}
	d.pullMu.Unlock()
	mu.Lock()
	defer mu.Unlock()

	if _, err := d.client.ImageInspect(ctx, ref); err == nil {
		return nil
	}
	rc, err := d.client.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer rc.Close()
	// Errors arrive inside the progress stream, not as an HTTP status.
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	d.pullMu.Lock()
	d.pulled = append(d.pulled, ref)
	d.pullMu.Unlock()
	return nil
}

// removePulled removes from the engine the function images this simulator
// pulled, so that a stopped simulator leaves none behind. An image still in
// use (another simulator's environment) stays.
func (d *dockerHost) removePulled(ctx context.Context) {
	d.pullMu.Lock()
	refs := d.pulled
	d.pulled = nil
	d.pullMu.Unlock()
	slog.Debug("lambda: removing the images pulled", "images", refs)
	for _, ref := range refs {
		if _, err := d.client.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
			slog.Debug("lambda: pulled image kept", "image", ref, "err", err)
		}
	}
}

// removeOrphans removes environment containers whose simulator died: those
// of a dead process on this host, and unlabelled-owner ones.
func (d *dockerHost) removeOrphans(ctx context.Context) error {
	list, err := d.client.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", labelSimulator+"=1")),
	})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	host := hostname()
	var errs []error
	for _, c := range list {
		pid, perr := strconv.Atoi(c.Labels[labelPID])
		if perr == nil && (c.Labels[labelHost] != host || processAlive(pid)) {
			continue
		}
		// A simulator in another PID namespace (a container on the host's
		// network has the host's name) looks dead by PID: its environment's
		// Runtime API still answers.
		if runtimeAPIAnswers(c.Labels[labelRuntime]) {
			continue
		}
		slog.Info("lambda: removing leftover container", "container", c.ID[:12], "names", c.Names)
		if err := d.client.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !errdefsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.ID[:12], err))
		}
	}
	return errors.Join(errs...)
}

// removeLabelled force-removes every container carrying label (k=v).
func (d *dockerHost) removeLabelled(ctx context.Context, label string) error {
	list, err := d.client.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", label)),
	})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	var errs []error
	for _, c := range list {
		if err := d.client.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !errdefsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.ID[:12], err))
		}
	}
	return errors.Join(errs...)
}

var osPID = os.Getpid()

func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// errdefsNotFound is true when the container is gone or going: either way
// there is nothing left to remove.
func errdefsNotFound(err error) bool {
	return client.IsErrNotFound(err) || strings.Contains(err.Error(), "already in progress")
}

// runtimeAPIAnswers reports whether something listens at addr: the Runtime
// API of a live simulator's environment.
func runtimeAPIAnswers(addr string) bool {
	if addr == "" {
		return false
	}
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
