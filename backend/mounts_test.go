package backend

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseBind(t *testing.T) {
	m, err := parseBind("data:/srv/data:ro,z")
	if err != nil || m.Type != mountVolume || m.Name != "data" || m.Path != "/srv/data" || !m.ReadOnly {
		t.Fatalf("named volume: got %+v, %v", m, err)
	}
	for bind, want := range map[string]string{
		"/etc:/hostetc":  "bind mounts are not supported on Lambda: a function cannot see /etc",
		"./src:/src":     "bind mounts are not supported on Lambda",
		"data":           "invalid volume specification: 'data'",
		"data:/x:ro:foo": "invalid volume specification",
		"data:/x:rx":     "invalid mode: rx",
	} {
		if _, err := parseBind(bind); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", bind, err, want)
		}
	}
}

// Without an access point, only tmpfs mounts are possible; anonymous volumes
// become /tmp-backed directories with a warning, named ones an error.
func TestResolveMountsWithoutEFS(t *testing.T) {
	b := &Backend{volumes: newVolumes()}
	img := &Image{Config: imageConfig(map[string]struct{}{"/var/lib/db": {}})}
	hc := &container.HostConfig{Tmpfs: map[string]string{"/run": ""}, Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp/x"}}}
	specs, warnings, err := b.resolveMounts(&container.Config{}, hc, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 || len(warnings) != 1 || !strings.Contains(warnings[0], "/var/lib/db is kept in the function's /tmp storage") {
		t.Fatalf("got %+v, warnings %q", specs, warnings)
	}
	links := imageLinks(specs)
	if _, ok := links["/tmp/x"]; ok || len(links) != 2 || !strings.HasPrefix(links["/run"], mountLinkDir+"/") {
		t.Errorf("image links: %v", links)
	}
	_, _, err = b.resolveMounts(&container.Config{}, &container.HostConfig{Binds: []string{"data:/data"}}, img)
	if err == nil || !strings.Contains(err.Error(), "SOCKERLESS_EFS_ACCESS_POINT_ARN") {
		t.Errorf("named volume without EFS: got %v", err)
	}
	for _, hc := range []*container.HostConfig{
		{Tmpfs: map[string]string{"/mnt/sockerless/x": ""}},
		{Tmpfs: map[string]string{"/": ""}},
		{Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/a"}, {Type: mount.TypeTmpfs, Target: "/a/"}}},
		{Mounts: []mount.Mount{{Type: mount.TypeNamedPipe, Target: "/p"}}},
	} {
		if _, _, err := b.resolveMounts(&container.Config{}, hc, img); err == nil {
			t.Errorf("%+v: accepted", hc)
		}
	}
}

func imageConfig(volumes map[string]struct{}) *v1.ConfigFile {
	return &v1.ConfigFile{Config: v1.Config{Volumes: volumes}}
}
