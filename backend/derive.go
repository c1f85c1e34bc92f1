package backend

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sockerless-lambda/sockerless/backend/agentbin"
)

// AgentPath is where the agent sits in every derived image; it is the
// image's entrypoint.
const AgentPath = "/opt/sockerless/sockerless-agent"

// deriver builds derived images: the user's image plus one layer holding the
// agent, with the agent as entrypoint, pushed to ECR by registry operations
// alone (no Docker daemon). Results are cached by base digest and agent.
type deriver struct {
	reg      *Registry
	mu       sync.Mutex
	cache    map[string]string      // tag → derived image URI by digest
	building map[string]*derivation // tag → the build in progress: one per tag, others wait
	layer    v1.Layer
	agent    string // sha256 of the agent binary: part of the cache key
}

// derivation is one build of a derived image, which concurrent creates of
// the same image share.
type derivation struct {
	done chan struct{}
	uri  string
	err  error
}

func newDeriver(reg *Registry) (*deriver, error) {
	bin, err := agentbin.Binary(reg.cfg.Architecture)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bin)
	layer, err := agentLayer(bin)
	if err != nil {
		return nil, err
	}
	return &deriver{reg: reg, cache: map[string]string{}, building: map[string]*derivation{}, layer: layer, agent: hex.EncodeToString(sum[:])}, nil
}

// agentLayer is a layer with the agent binary at AgentPath.
func agentLayer(bin []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, dir := range []string{"opt/", "opt/sockerless/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: AgentPath[1:], Mode: 0o755, Size: int64(len(bin)), ModTime: mtime}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// linksLayer is a layer with a symbolic link at each mount path, which
// replaces whatever the image has there, as a mount hides it; and, under
// seedDir, what the base image had below each mount path, which the agent
// copies into a new volume as Docker does. It is written to a file in dir.
func linksLayer(base v1.Image, links map[string]string, seeds []string, dir string) (v1.Layer, error) {
	f, err := os.CreateTemp(dir, "links-*.tar")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if len(seeds) > 0 {
		if err := writeSeeds(tw, base, seeds); err != nil {
			return nil, err
		}
	}
	for _, p := range sortedKeys(links) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: p[1:], Linkname: links[p], Mode: 0o777, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	name := f.Name()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(name) })
}

// writeSeeds copies, from base's file system, the entries below each of
// paths to seedDir(path). Hard links to files outside a path are left out
// (a layer cannot link into a lower one).
func writeSeeds(tw *tar.Writer, base v1.Image, paths []string) error {
	rc := mutate.Extract(base)
	defer rc.Close()
	under := func(name string) (string, string, bool) {
		for _, p := range paths {
			if rel, ok := strings.CutPrefix(name, p+"/"); ok {
				return seedDir(p), rel, true
			}
		}
		return "", "", false
	}
	made := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the base image: %w", err)
		}
		seed, rel, ok := under(path.Clean("/" + h.Name))
		if !ok {
			continue
		}
		for _, d := range []string{seedRoot, seed} {
			if !made[d] {
				made[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
					return err
				}
			}
		}
		nh := *h
		nh.Format = tar.FormatUnknown // the longer name may not fit the original's format
		// The agent, not root, copies the seed: it must be able to read it.
		nh.Mode |= 0o444
		if h.Typeflag == tar.TypeDir {
			nh.Mode |= 0o111
		}
		nh.Name = seed[1:] + "/" + rel
		if h.Typeflag == tar.TypeDir {
			nh.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			ls, lrel, ok := under(path.Clean("/" + h.Linkname))
			if !ok {
				continue
			}
			nh.Linkname = ls[1:] + "/" + lrel
		}
		if err := tw.WriteHeader(&nh); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}

// Derive returns the derived image for img with the mount links (path →
// link, see mounts.go), by digest, building and pushing it only when ECR does
// not have it yet.
func (d *deriver) Derive(ctx context.Context, img *Image, links map[string]string, seeds []string) (string, error) {
	keyText := img.Digest + "\x00" + d.agent + "\x00" + d.reg.cfg.Architecture
	for _, p := range sortedKeys(links) {
		keyText += "\x00" + p + "\x00" + links[p]
	}
	for _, p := range seeds {
		keyText += "\x00seed\x00" + p
	}
	key := sha256.Sum256([]byte(keyText))
	tag := "agent-" + hex.EncodeToString(key[:])[:40]

	d.mu.Lock()
	if uri, ok := d.cache[tag]; ok {
		d.mu.Unlock()
		return uri, nil
	}
	if b, ok := d.building[tag]; ok {
		d.mu.Unlock()
		select {
		case <-b.done:
			return b.uri, b.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	b := &derivation{done: make(chan struct{})}
	d.building[tag] = b
	d.mu.Unlock()
	b.uri, b.err = d.build(ctx, img, tag, links, seeds)
	d.mu.Lock()
	delete(d.building, tag)
	if b.err == nil {
		d.cache[tag] = b.uri
	}
	d.mu.Unlock()
	close(b.done)
	return b.uri, b.err
}

// build makes the derived image tagged tag unless ECR has it, and returns it
// by digest.
func (d *deriver) build(ctx context.Context, img *Image, tag string, links map[string]string, seeds []string) (string, error) {
	auth, host, err := d.reg.credentials(ctx)
	if err != nil {
		return "", err
	}
	target, err := d.reg.parse(host + "/" + d.reg.cfg.ECRRepository + ":" + tag)
	if err != nil {
		return "", fmt.Errorf("derived image reference: %w", err)
	}
	opts := d.reg.options(ctx, auth)
	if desc, err := remote.Head(target, opts...); err == nil {
		return target.Context().String() + "@" + desc.Digest.String(), nil
	}
	baseRef, err := d.reg.parse(img.ECRRef)
	if err != nil {
		return "", fmt.Errorf("base image reference: %w", err)
	}
	base, err := remote.Image(baseRef, opts...)
	if err != nil {
		return "", fmt.Errorf("read base image %s from ECR: %w", img.ECRRef, err)
	}
	layers := []v1.Layer{d.layer}
	if len(links) > 0 {
		dir, err := os.MkdirTemp("", "sockerless-derive-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		ml, err := linksLayer(base, links, seeds, dir)
		if err != nil {
			return "", fmt.Errorf("mounts layer: %w", err)
		}
		layers = append(layers, ml)
	}
	derived, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		return "", fmt.Errorf("add agent layer: %w", err)
	}
	cf, err := derived.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("derived image config: %w", err)
	}
	cf = cf.DeepCopy()
	// The agent is the entrypoint; the container's own command travels in
	// each invocation, so one derived image serves every container of img.
	cf.Config.Entrypoint = []string{AgentPath}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = "/"
	cf.Config.User = ""
	derived, err = mutate.ConfigFile(derived, cf)
	if err != nil {
		return "", fmt.Errorf("set derived image config: %w", err)
	}
	if err := remote.Write(target, derived, opts...); err != nil {
		return "", fmt.Errorf("push derived image to ECR: %w", err)
	}
	digest, err := derived.Digest()
	if err != nil {
		return "", err
	}
	return target.Context().String() + "@" + digest.String(), nil
}
