package lambda

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sockerless-lambda/sockerless/simulator/lambda/lambdatest"
)

// The suite runs the real thing: a registry on 127.0.0.1 holding a test
// image built FROM scratch around testdata/handler, the local Docker engine,
// and the unmodified aws-sdk-go-v2 Lambda client.

var (
	registryHost string // 127.0.0.1:port of the test registry
	handlerImage string // the handler image's URI, by tag
	handlerBin   string // the handler binary, for variants of the image
	dockerClient *client.Client
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	dir, err := os.MkdirTemp("", "lambda-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := lambdatest.BuildHandler(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	registryHost = strings.TrimPrefix(reg.URL, "http://")
	handlerImage = registryHost + "/handler:latest"
	handlerBin = bin
	if err := pushHandlerImage(handlerImage, "amd64"); err != nil {
		fmt.Fprintln(os.Stderr, "push handler image:", err)
		return 1
	}
	if dockerClient, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer removePulledImages()
	return m.Run()
}

// removePulledImages removes what the engine pulled from this run's registry.
func removePulledImages() {
	ctx := context.Background()
	list, err := dockerClient.ImageList(ctx, image.ListOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "list images:", err)
		return
	}
	for _, img := range list {
		for _, ref := range img.RepoDigests {
			if strings.HasPrefix(ref, registryHost+"/") {
				if _, err := dockerClient.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil {
					fmt.Fprintln(os.Stderr, "remove image:", err)
				}
			}
		}
	}
}

// pushHandlerImage pushes an image of the handler (see lambdatest.Image).
func pushHandlerImage(ref, arch string, env ...string) error {
	img, err := lambdatest.Image(handlerBin, arch, env...)
	if err != nil {
		return err
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(r, img)
}

// testImages resolves image URIs against the test registry, as ECR does.
type testImages struct{}

func (testImages) Resolve(ctx context.Context, uri string) (string, string, error) {
	r, err := name.ParseReference(uri, name.Insecure)
	if err != nil {
		return "", "", err
	}
	if r.Context().RegistryStr() != registryHost {
		return "", "", fmt.Errorf("%s is not in the test registry", uri)
	}
	desc, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		return "", "", err
	}
	return r.Context().Name() + "@" + desc.Digest.String(), desc.Digest.String(), nil
}

func (testImages) EngineAuth() string {
	return base64.URLEncoding.EncodeToString([]byte("{}"))
}

// memLogs is CloudWatch Logs in memory.
type memLogs struct {
	mu      sync.Mutex
	streams map[string]map[string][]LogEvent
}

func (l *memLogs) EnsureLogGroup(group string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams == nil {
		l.streams = map[string]map[string][]LogEvent{}
	}
	if l.streams[group] == nil {
		l.streams[group] = map[string][]LogEvent{}
	}
	return nil
}

func (l *memLogs) EnsureLogStream(group, stream string) error {
	_ = l.EnsureLogGroup(group)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.streams[group][stream]; !ok {
		l.streams[group][stream] = []LogEvent{}
	}
	return nil
}

func (l *memLogs) Append(group, stream string, events []LogEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.streams[group][stream]; !ok {
		return fmt.Errorf("no stream %s %s", group, stream)
	}
	l.streams[group][stream] = append(l.streams[group][stream], events...)
	return nil
}

// group returns a copy of a group's streams.
func (l *memLogs) group(group string) map[string][]LogEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]LogEvent{}
	for s, ev := range l.streams[group] {
		out[s] = append([]LogEvent(nil), ev...)
	}
	return out
}

// fixture is one simulated Lambda behind an httptest server and an SDK client.
type fixture struct {
	svc    *Service
	logs   *memLogs
	url    string
	client *awslambda.Client

	close     func() // closes the service and its server, once
	closeOnce sync.Once
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	if cfg.PendingDelay == 0 {
		cfg.PendingDelay = 300 * time.Millisecond
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
	}
	logs := &memLogs{}
	return startFixture(t, cfg, logs)
}

// startFixture starts a service on logs, which a restarted fixture shares
// with the one before, as CloudWatch outlives a simulator restart.
func startFixture(t testing.TB, cfg Config, logs *memLogs) *fixture {
	t.Helper()
	svc, err := New(cfg, logs, testImages{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Register(mux)
	srv := httptest.NewServer(mux)
	f := &fixture{svc: svc, logs: logs, url: srv.URL}
	f.close = func() {
		f.closeOnce.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := svc.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(f.close)
	c := awslambda.New(awslambda.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	f.client = c
	return f
}

// containers lists the engine's containers of a function.
func containers(t *testing.T, function string) []container.Summary {
	t.Helper()
	list, err := dockerClient.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", labelFunction+"="+function)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
