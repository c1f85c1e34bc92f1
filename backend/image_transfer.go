package backend

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/gin-gonic/gin"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
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
// (registry to registry; layers are mounted, not downloaded); to another
// registry, with the client's X-Registry-Auth credentials (pushForeign).
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
		b.pushForeign(c, named, img)
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

// pullMirror serves a pull from a registry that is neither ECR nor behind an
// ECR pull-through cache rule: Lambda runs images from the function's own
// ECR only, so the image (for the functions' architecture) is copied, layer
// by layer, into the mirror repository <SOCKERLESS_ECR_REPOSITORY>/mirror/
// <host>/<path>, reading it with the client's credentials ac. It keeps its
// own name: the copy in ECR is where the backend finds it, as for any image.
func (b *Backend) pullMirror(ctx context.Context, named reference.Named, ac *registry.AuthConfig, progress func(jsonmessage.JSONMessage)) (*Image, error) {
	src, err := foreignRef(named)
	if err != nil {
		return nil, err
	}
	anon := anonymous(ac)
	progress(jsonmessage.JSONMessage{Status: "Pulling from " + reference.Path(named), ID: src.Identifier()})
	srcOpts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authenticator(ac)), remote.WithPlatform(b.registry.platform())}
	desc, err := remote.Get(src, srcOpts...)
	if err != nil {
		return nil, registryError(named, err, anon)
	}
	img, err := desc.Image() // for an index, the manifest of the functions' platform
	if err != nil {
		if desc.MediaType.IsIndex() {
			p := b.registry.platform()
			return nil, notFound("no matching manifest for %s/%s in the manifest list entries", p.OS, p.Architecture)
		}
		return nil, registryError(named, err, anon)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, registryError(named, err, anon)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, registryError(named, err, anon)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, registryError(named, err, anon)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, registryError(named, err, anon)
	}

	ecrAuth, host, err := b.registry.credentials(ctx)
	if err != nil {
		return nil, err
	}
	repo := mirrorRepository(b.cfg.ECRRepository, named)
	if err := b.registry.ensureRepository(ctx, repo); err != nil {
		return nil, err
	}
	// By tag as the user named it; a digest reference (possibly of an index)
	// is kept by the digest of the image copied.
	targetRef := host + "/" + repo + "@" + digest.String()
	if t, ok := named.(reference.Tagged); ok {
		targetRef = host + "/" + repo + ":" + t.Tag()
	}
	target, err := b.registry.parse(targetRef)
	if err != nil {
		return nil, fmt.Errorf("mirror reference %s: %w", targetRef, err)
	}
	ecrOpts := b.registry.options(ctx, ecrAuth)
	puller, err := remote.NewPuller(ecrOpts...)
	if err != nil {
		return nil, err
	}
	// As dockerd shows it: each layer either already there or to be pulled,
	// then the progress of those pulled.
	var size int64
	var missing []v1.Layer
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, registryError(named, err, anon)
		}
		n, _ := l.Size()
		size += n
		ok, err := blobExists(ctx, puller, target.Context(), d)
		if err != nil {
			return nil, fmt.Errorf("ECR: %w", err)
		}
		if ok {
			progress(jsonmessage.JSONMessage{Status: "Already exists", ID: shortID(d)})
			continue
		}
		progress(jsonmessage.JSONMessage{Status: "Pulling fs layer", ID: shortID(d)})
		missing = append(missing, l)
	}
	for _, l := range missing {
		d, _ := l.Digest()
		if err := copyLayer(target.Context(), l, "Downloading", shortID(d), progress, ecrOpts...); err != nil {
			return nil, registryError(named, err, anon)
		}
		progress(jsonmessage.JSONMessage{Status: "Download complete", ID: shortID(d)})
		progress(jsonmessage.JSONMessage{Status: "Pull complete", ID: shortID(d)})
	}
	// The config and the manifest; the layers are there.
	if err := remote.Write(target, img, ecrOpts...); err != nil {
		return nil, registryError(named, err, anon)
	}
	progress(jsonmessage.JSONMessage{Status: "Digest: " + desc.Digest.String()})

	image := pulledImage(named, cfgName.String(), desc.Digest.String(), target.Context().String()+"@"+digest.String(), digest.String(), cf, size)
	status := "Status: Downloaded newer image for "
	if old, ok := b.store.LookupImage(familiarString(named)); ok && old.ID == image.ID {
		status = "Status: Image is up to date for "
	}
	b.store.PutImage(image)
	b.journalImage(imageEntry{Kind: "image", Image: image})
	b.publish(events.ImageEventType, events.ActionPull, familiarString(named), map[string]string{"name": familiarString(named)})
	progress(jsonmessage.JSONMessage{Status: status + familiarString(named)})
	return image, nil
}

// pushForeign serves a push to a registry other than ECR: the image is
// copied there from its copy in ECR with the client's credentials, layer by
// layer, with Docker's progress messages. Everything after the first line,
// errors included, goes in-band, as dockerd streams a push.
func (b *Backend) pushForeign(c *gin.Context, named reference.Named, img *Image) {
	ctx := c.Request.Context()
	ac := registryAuth(c)
	anon := anonymous(ac)
	target, err := foreignRef(named)
	if err != nil {
		writeError(c, err)
		return
	}
	ecrAuth, _, err := b.registry.credentials(ctx)
	if err != nil {
		writeError(c, err)
		return
	}
	src, err := b.registry.parse(img.ECRRef)
	if err != nil {
		writeError(c, err)
		return
	}
	source, err := remote.Image(src, b.registry.options(ctx, ecrAuth)...)
	if err != nil {
		writeError(c, fmt.Errorf("read %s from ECR: %w", img.ECRRef, err))
		return
	}
	layers, err := source.Layers()
	if err != nil {
		writeError(c, fmt.Errorf("read %s from ECR: %w", img.ECRRef, err))
		return
	}
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
	send := func(m jsonmessage.JSONMessage) { _ = writeJSONLine(c.Writer, m); c.Writer.Flush() }
	fail := func(err error) {
		msg := registryError(named, err, anon).Error()
		send(jsonmessage.JSONMessage{Error: &jsonmessage.JSONError{Message: msg}, ErrorMessage: msg})
	}
	send(jsonmessage.JSONMessage{Status: "The push refers to repository [" + named.Name() + "]"})
	// As dockerd lists them: the top layer first.
	order := make([]v1.Layer, 0, len(layers))
	for i := len(layers) - 1; i >= 0; i-- {
		order = append(order, layers[i])
	}
	for _, l := range order {
		d, err := l.Digest()
		if err != nil {
			fail(err)
			return
		}
		send(jsonmessage.JSONMessage{Status: "Preparing", ID: shortID(d)})
	}
	dstOpts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authenticator(ac))}
	puller, err := remote.NewPuller(dstOpts...)
	if err != nil {
		fail(err)
		return
	}
	for _, l := range order {
		d, _ := l.Digest()
		ok, err := blobExists(ctx, puller, target.Context(), d)
		if err != nil {
			fail(err)
			return
		}
		if ok {
			send(jsonmessage.JSONMessage{Status: "Layer already exists", ID: shortID(d)})
			continue
		}
		if err := copyLayer(target.Context(), l, "Pushing", shortID(d), send, dstOpts...); err != nil {
			fail(err)
			return
		}
		send(jsonmessage.JSONMessage{Status: "Pushed", ID: shortID(d)})
	}
	if err := remote.Write(target, source, dstOpts...); err != nil {
		fail(err)
		return
	}
	digest, _ := source.Digest()
	manifest, _ := source.RawManifest()
	send(jsonmessage.JSONMessage{Status: fmt.Sprintf("%s: digest: %s size: %d", target.Identifier(), digest, len(manifest))})
	send(jsonmessage.JSONMessage{Aux: auxPush(target.Identifier(), digest.String(), len(manifest))})
	b.publish(events.ImageEventType, events.ActionPush, strings.TrimPrefix(named.String(), "docker.io/"), map[string]string{"name": familiarString(named)})
}

// auxPush is the aux message dockerd ends a push with (the CLI reads the digest from it).
func auxPush(tag, digest string, size int) *json.RawMessage {
	raw, _ := json.Marshal(map[string]any{"Tag": tag, "Digest": digest, "Size": size})
	m := json.RawMessage(raw)
	return &m
}

// blobExists reports whether repo holds the blob d.
func blobExists(ctx context.Context, p *remote.Puller, repo name.Repository, d v1.Hash) (bool, error) {
	l, err := p.Layer(ctx, repo.Digest(d.String()))
	if err != nil {
		return false, err
	}
	return partial.Exists(l)
}

// copyLayer writes one layer to repo, reporting its progress as Docker's
// status (Downloading, Pushing) messages with a progress detail.
func copyLayer(repo name.Repository, l v1.Layer, status, id string, progress func(jsonmessage.JSONMessage), opts ...remote.Option) error {
	updates := make(chan v1.Update, 16)
	errc := make(chan error, 1)
	go func() { errc <- remote.WriteLayer(repo, l, append(opts, remote.WithProgress(updates))...) }()
	var last time.Time
	for {
		select {
		case u, ok := <-updates:
			if !ok {
				return <-errc
			}
			if u.Error != nil || u.Total <= 0 || (time.Since(last) < 200*time.Millisecond && u.Complete < u.Total) {
				continue
			}
			last = time.Now()
			progress(jsonmessage.JSONMessage{Status: status, ID: id, Progress: &jsonmessage.JSONProgress{Current: u.Complete, Total: u.Total}})
		case err := <-errc:
			return err
		}
	}
}

// shortID is how Docker names a layer in progress messages.
func shortID(d v1.Hash) string {
	h := d.Hex
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}
