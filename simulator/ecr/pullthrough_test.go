package ecr

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeDockerHub serves a registry over TLS and returns a transport that
// sends every connection (to index.docker.io, say) to it: no network needed.
func fakeDockerHub(t *testing.T) http.RoundTripper {
	t.Helper()
	hub := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(hub.Close)
	tr := hub.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, hub.Listener.Addr().String())
	}
	return tr
}

func TestPullThroughFromDockerHub(t *testing.T) {
	ctx := context.Background()
	hub := fakeDockerHub(t)
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := name.ParseReference("index.docker.io/library/thing:v1")
	if err := remote.Write(src, img, remote.WithTransport(hub)); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, func(c *Config) { c.Upstream = true })
	e.svc.upstreamTransport = hub
	if _, err := e.c.CreatePullThroughCacheRule(ctx, &ecrsdk.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("docker-hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")}); err != nil {
		t.Fatal(err)
	}
	auth := e.auth(t)
	ref, _ := name.ParseReference(e.host + "/docker-hub/library/thing:v1")
	desc, err := remote.Get(ref, remote.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if desc.Digest != want {
		t.Fatalf("digest %s, upstream has %s", desc.Digest, want)
	}
	// Layers come along: the whole image pulls from the cache.
	got, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
	li, err := e.c.ListImages(ctx, &ecrsdk.ListImagesInput{RepositoryName: aws.String("docker-hub/library/thing")})
	if err != nil || len(li.ImageIds) != 1 || aws.ToString(li.ImageIds[0].ImageTag) != "v1" {
		t.Fatalf("cached repository: %v %+v", err, li)
	}
	// Absent upstream and locally: the registry's 404.
	absent, _ := name.ParseReference(e.host + "/docker-hub/library/absent:v1")
	if _, err := remote.Get(absent, remote.WithAuth(auth)); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("absent: %v", err)
	}

	// Absent upstream but in the local engine: the offline fallback.
	t.Run("falls back to the local engine", func(t *testing.T) {
		buildLocalImage(t, "sockerless-test/ptc:latest")
		r, _ := name.ParseReference(e.host + "/docker-hub/sockerless-test/ptc:latest")
		if _, err := remote.Get(r, remote.WithAuth(auth)); err != nil {
			t.Fatal(err)
		}
	})
}
