package backend

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/gin-gonic/gin"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// handleImageLoad serves POST /images/load (docker load): each tagged image
// of the tarball is pushed to ECR, under the configured repository prefix,
// and recorded under its names. Nothing stays on the backend's disk.
func (b *Backend) handleImageLoad(c *gin.Context) {
	ctx := c.Request.Context()
	f, err := os.CreateTemp("", "sockerless-load-*.tar")
	if err != nil {
		writeError(c, fmt.Errorf("docker load: temporary file: %w", err))
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	body := bufio.NewReader(c.Request.Body)
	var in io.Reader = body
	if magic, _ := body.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(body)
		if err != nil {
			writeError(c, badRequest("docker load: bad gzip stream: %s", err))
			return
		}
		in = gz
	}
	if _, err := io.Copy(f, in); err != nil {
		writeError(c, badRequest("docker load: reading the archive: %s", err))
		return
	}
	opener := func() (io.ReadCloser, error) { return os.Open(f.Name()) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		writeError(c, badRequest("docker load: not an image archive (docker save format): %s", err))
		return
	}
	var loaded []string
	for _, entry := range manifest {
		if len(entry.RepoTags) == 0 {
			writeError(c, badRequest("docker load: an image without a name is in the archive; only tagged images can be loaded (they are pushed to ECR under their name)"))
			return
		}
		if err := b.loadOne(ctx, opener, entry.RepoTags); err != nil {
			writeError(c, err)
			return
		}
		loaded = append(loaded, entry.RepoTags...)
	}
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
	for _, t := range loaded {
		_ = writeJSONLine(c.Writer, jsonmessage.JSONMessage{Stream: "Loaded image: " + t + "\n"})
	}
}

func (b *Backend) loadOne(ctx context.Context, opener tarball.Opener, tags []string) error {
	first, err := name.NewTag(tags[0])
	if err != nil {
		return badRequest("docker load: bad image name %q: %s", tags[0], err)
	}
	img, err := tarball.Image(opener, &first)
	if err != nil {
		return badRequest("docker load: %s: %s", tags[0], err)
	}
	named, err := normalizeImageRef(tags[0])
	if err != nil {
		return err
	}
	auth, host, err := b.registry.credentials(ctx)
	if err != nil {
		return err
	}
	repo := b.cfg.ECRRepository + "/" + reference.Path(named)
	if reference.Domain(named) == host {
		repo = reference.Path(named)
	}
	if err := b.registry.ensureRepository(ctx, repo); err != nil {
		return err
	}
	tag := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	target, err := b.registry.parse(host + "/" + repo + ":" + tag)
	if err != nil {
		return err
	}
	if err := remote.Write(target, img, b.registry.options(ctx, auth)...); err != nil {
		return fmt.Errorf("docker load: push %s to ECR: %w", tags[0], err)
	}
	digest, _ := img.Digest()
	cfgName, _ := img.ConfigName()
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("docker load: image config: %w", err)
	}
	size, _ := imageSize(img)
	image := &Image{
		ID: cfgName.String(), ECRRef: target.Context().String() + "@" + digest.String(), Digest: digest.String(),
		Config: cf, Size: size, Created: cf.Created.Time,
	}
	for _, t := range tags {
		if n, err := normalizeImageRef(t); err == nil {
			image.RepoTags = append(image.RepoTags, familiarString(n))
		}
	}
	b.store.PutImage(image)
	b.journalImage(imageEntry{Kind: "image", Image: image})
	b.publish(events.ImageEventType, events.ActionLoad, image.ID, map[string]string{"name": image.RepoTags[0]})
	return nil
}

// handleImagePush serves POST /images/{name}/push: an image whose name is in
// this account's ECR is copied there from where the backend holds it
// (registry to registry; layers are mounted, not downloaded).
func (b *Backend) handleImagePush(c *gin.Context, ref string) {
	if tag := c.Query("tag"); tag != "" {
		ref += ":" + tag
	}
	named, err := normalizeImageRef(ref)
	if err != nil {
		writeError(c, err)
		return
	}
	img, ok := b.store.LookupImage(familiarString(named))
	if !ok {
		writeError(c, notFound("An image does not exist locally with the tag: %s", reference.FamiliarName(named)))
		return
	}
	ctx := c.Request.Context()
	auth, host, err := b.registry.credentials(ctx)
	if err != nil {
		writeError(c, err)
		return
	}
	if reference.Domain(named) != host {
		writeError(c, badRequest("pushing to %s is not supported: the backend pushes to this account's ECR only; tag the image as %s/<repository>:<tag>", reference.Domain(named), host))
		return
	}
	if err := b.registry.ensureRepository(ctx, reference.Path(named)); err != nil {
		writeError(c, err)
		return
	}
	src, err := b.registry.parse(img.ECRRef)
	if err != nil {
		writeError(c, err)
		return
	}
	target, err := b.registry.parse(named.String())
	if err != nil {
		writeError(c, err)
		return
	}
	opts := b.registry.options(ctx, auth)
	source, err := remote.Image(src, opts...)
	if err != nil {
		writeError(c, fmt.Errorf("read %s from ECR: %w", img.ECRRef, err))
		return
	}
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
	send := func(m jsonmessage.JSONMessage) { _ = writeJSONLine(c.Writer, m); c.Writer.Flush() }
	send(jsonmessage.JSONMessage{Status: "The push refers to repository [" + target.Context().String() + "]"})
	if err := remote.Write(target, source, opts...); err != nil {
		send(jsonmessage.JSONMessage{Error: &jsonmessage.JSONError{Message: err.Error()}, ErrorMessage: err.Error()})
		return
	}
	digest, _ := source.Digest()
	manifest, _ := source.RawManifest()
	send(jsonmessage.JSONMessage{Status: fmt.Sprintf("%s: digest: %s size: %d", target.Identifier(), digest, len(manifest))})
	b.publish(events.ImageEventType, events.ActionPush, strings.TrimPrefix(named.String(), "docker.io/"), map[string]string{"name": familiarString(named)})
}

// imageSize is the sum of an image's compressed layers, as ECR reports it.
func imageSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			return 0, err
		}
		n += size
	}
	return n, nil
}
