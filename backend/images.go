package backend

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/gin-gonic/gin"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Registry is ECR as the backend uses it: the API for repositories and
// credentials, and the registry itself through go-containerregistry.
type Registry struct {
	aws  *AWS
	cfg  Config
	mu   sync.Mutex
	auth authn.Authenticator
	host string // the registry host from GetAuthorizationToken, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com
	http bool   // plain HTTP (the simulator's registry on 127.0.0.1)
	exp  time.Time

	ruleOnce sync.Once
	ruleErr  error
}

// credentials returns (cached) ECR registry credentials.
func (r *Registry) credentials(ctx context.Context) (authn.Authenticator, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auth != nil && time.Now().Before(r.exp) {
		return r.auth, r.host, nil
	}
	out, err := r.aws.ECR.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return nil, "", fmt.Errorf("ECR GetAuthorizationToken: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return nil, "", errors.New("ECR GetAuthorizationToken returned no authorization data")
	}
	ad := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(ad.AuthorizationToken))
	if err != nil {
		return nil, "", fmt.Errorf("decode ECR authorization token: %w", err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	u, err := url.Parse(aws.ToString(ad.ProxyEndpoint))
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("ECR proxy endpoint %q is not a URL", aws.ToString(ad.ProxyEndpoint))
	}
	r.auth = &authn.Basic{Username: user, Password: pass}
	r.host, r.http = u.Host, u.Scheme == "http"
	// Refresh well before the token expires (12 h on AWS).
	r.exp = time.Now().Add(time.Hour)
	return r.auth, r.host, nil
}

func (r *Registry) parse(ref string) (name.Reference, error) {
	var opts []name.Option
	if r.http {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(ref, opts...)
}

func (r *Registry) options(ctx context.Context, auth authn.Authenticator) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithPlatform(r.platform())}
}

func (r *Registry) platform() v1.Platform {
	arch := "amd64"
	if r.cfg.Architecture == "arm64" {
		arch = "arm64"
	}
	return v1.Platform{OS: "linux", Architecture: arch}
}

// pulledImage is the record of an image pulled as named: repoDigest is the
// manifest's digest in the registry it came from, ecrRef where it lives in
// ECR (by digest). A pull by digest gives no tag.
func pulledImage(named reference.Named, id, repoDigest, ecrRef, digest string, cf *v1.ConfigFile, size int64) *Image {
	img := &Image{
		ID: id, RepoTags: []string{familiarString(named)},
		RepoDigests: []string{reference.FamiliarName(named) + "@" + repoDigest},
		ECRRef:      ecrRef, Digest: digest, Config: cf, Size: size, Created: cf.Created.Time,
	}
	if _, ok := named.(reference.Digested); ok {
		img.RepoTags = nil
	}
	return img
}

// checkPlatform refuses a --platform the functions cannot run: they all run
// on the one architecture the backend is configured for.
func (r *Registry) checkPlatform(platform string) error {
	if platform == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(platform), "/")
	osName, arch := "linux", parts[0]
	if len(parts) > 1 {
		osName, arch = parts[0], parts[1]
	}
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	}
	if want := r.platform(); osName != want.OS || arch != want.Architecture {
		return badRequest("platform %q is not available: this backend runs every container as a Lambda function on %s/%s (SOCKERLESS_LAMBDA_ARCHITECTURE=%s)", platform, want.OS, want.Architecture, r.cfg.Architecture)
	}
	return nil
}

// ensurePullThroughRule makes sure Docker Hub names can be fetched through
// ECR's pull-through cache under the configured prefix.
func (r *Registry) ensurePullThroughRule(ctx context.Context) error {
	r.ruleOnce.Do(func() {
		prefix := r.cfg.ECRPullThrough
		out, err := r.aws.ECR.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{
			EcrRepositoryPrefixes: []string{prefix},
		})
		if err == nil && len(out.PullThroughCacheRules) > 0 {
			return
		}
		var nf *ecrtypes.PullThroughCacheRuleNotFoundException
		if err != nil && !errors.As(err, &nf) {
			r.ruleErr = fmt.Errorf("ECR DescribePullThroughCacheRules: %w", err)
			return
		}
		_, err = r.aws.ECR.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
			EcrRepositoryPrefix: aws.String(prefix),
			UpstreamRegistryUrl: aws.String("registry-1.docker.io"),
		})
		var exists *ecrtypes.PullThroughCacheRuleAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			r.ruleErr = fmt.Errorf("ECR pull-through cache rule %q for Docker Hub is missing and could not be created "+
				"(on AWS it needs a Docker Hub credential in Secrets Manager; see examples/terraform): %w", prefix, err)
		}
	})
	return r.ruleErr
}

// ensureRepository creates an ECR repository unless it exists.
func (r *Registry) ensureRepository(ctx context.Context, repo string) error {
	_, err := r.aws.ECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	var exists *ecrtypes.RepositoryAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("ECR CreateRepository %s: %w", repo, err)
	}
	return nil
}

// ecrRef maps a Docker reference to where the image lives in ECR: Docker Hub
// names go through the pull-through cache prefix; ECR names stay as they are;
// another registry's names through the account's pull-through cache rule for
// it. "" when there is none: the image is then copied into ECR (pullMirror).
func (r *Registry) ecrRef(ctx context.Context, named reference.Named) (string, error) {
	_, host, err := r.credentials(ctx)
	if err != nil {
		return "", err
	}
	domain, path := reference.Domain(named), reference.Path(named)
	suffix := ":latest"
	if d, ok := named.(reference.Digested); ok {
		suffix = "@" + d.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		suffix = ":" + t.Tag()
	}
	switch {
	case domain == host:
		return host + "/" + path + suffix, nil
	case domain == "docker.io":
		if err := r.ensurePullThroughRule(ctx); err != nil {
			return "", err
		}
		return host + "/" + r.cfg.ECRPullThrough + "/" + path + suffix, nil
	}
	// Another registry: through the account's pull-through cache rule for it,
	// if there is one (ghcr.io, quay.io, public.ecr.aws, ...).
	prefix, err := r.pullThroughPrefix(ctx, domain)
	if err != nil {
		return "", err
	}
	if prefix == "" {
		return "", nil
	}
	return host + "/" + prefix + "/" + path + suffix, nil
}

// pullThroughPrefix finds the ECR pull-through cache rule whose upstream is
// registry; "" when there is none.
func (r *Registry) pullThroughPrefix(ctx context.Context, registry string) (string, error) {
	p := ecr.NewDescribePullThroughCacheRulesPaginator(r.aws.ECR, &ecr.DescribePullThroughCacheRulesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("ECR DescribePullThroughCacheRules: %w", err)
		}
		for _, rule := range page.PullThroughCacheRules {
			if aws.ToString(rule.UpstreamRegistryUrl) == registry {
				return aws.ToString(rule.EcrRepositoryPrefix), nil
			}
		}
	}
	return "", nil
}

// normalizeImageRef parses what a user typed ("busybox", "x/y:1",
// "registry/x@sha256:...") into a full reference with a tag or digest.
func normalizeImageRef(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, badRequest("invalid reference format: %s", err)
	}
	return reference.TagNameOnly(named), nil
}

// familiarString is how Docker shows a name: "busybox:latest".
func familiarString(named reference.Named) string { return reference.FamiliarString(named) }

// Pull resolves named in ECR and records it as a local image; an image of a
// registry ECR cannot serve is first copied into ECR with the client's
// credentials ac. progress gets Docker's JSON messages for the CLI's progress
// display.
func (b *Backend) Pull(ctx context.Context, named reference.Named, ac *registry.AuthConfig, progress func(jsonmessage.JSONMessage)) (*Image, error) {
	ref, err := b.registry.ecrRef(ctx, named)
	if err != nil {
		return nil, err
	}
	if ref == "" {
		return b.pullMirror(ctx, named, ac, progress)
	}
	auth, _, err := b.registry.credentials(ctx)
	if err != nil {
		return nil, err
	}
	r, err := b.registry.parse(ref)
	if err != nil {
		return nil, fmt.Errorf("parse ECR reference %s: %w", ref, err)
	}
	tagOrDigest := r.Identifier()
	progress(jsonmessage.JSONMessage{Status: "Pulling from " + reference.Path(named), ID: tagOrDigest})
	img, err := remote.Image(r, b.registry.options(ctx, auth)...)
	if err != nil {
		return nil, pullError(named, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image digest: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("image config digest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	var size int64
	for _, l := range layers {
		d, _ := l.Digest()
		n, _ := l.Size()
		size += n
		short := strings.TrimPrefix(d.String(), "sha256:")[:12]
		// The layers stay in ECR; the backend only resolves the image.
		progress(jsonmessage.JSONMessage{Status: "Pulling fs layer", ID: short})
		progress(jsonmessage.JSONMessage{Status: "Pull complete", ID: short})
	}
	progress(jsonmessage.JSONMessage{Status: "Digest: " + digest.String()})
	image := pulledImage(named, cfgName.String(), digest.String(), r.Context().String()+"@"+digest.String(), digest.String(), cf, size)
	b.store.PutImage(image)
	b.journalImage(imageEntry{Kind: "image", Image: image})
	b.publish(events.ImageEventType, events.ActionPull, familiarString(named), map[string]string{"name": familiarString(named)})
	progress(jsonmessage.JSONMessage{Status: "Status: Downloaded newer image for " + familiarString(named)})
	return image, nil
}

// pullError words a registry failure as the Docker daemon does.
func pullError(named reference.Named, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.NameUnknownErrorCode, transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return notFound("pull access denied for %s, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", reference.FamiliarName(named))
			case transport.ManifestUnknownErrorCode:
				return notFound("manifest for %s not found: manifest unknown: manifest unknown", familiarString(named))
			}
		}
		if te.StatusCode == http.StatusNotFound {
			return notFound("pull access denied for %s, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", reference.FamiliarName(named))
		}
	}
	return fmt.Errorf("pull %s from ECR: %w", familiarString(named), err)
}

// handleImageCreate serves POST /images/create (docker pull).
func (b *Backend) handleImageCreate(c *gin.Context) {
	if err := b.registry.checkPlatform(c.Query("platform")); err != nil {
		writeError(c, err)
		return
	}
	from := c.Query("fromImage")
	if from == "" {
		writeError(c, notImplemented("importing an image from a tarball (fromSrc) is not supported; use docker load"))
		return
	}
	if tag := c.Query("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			from += "@" + tag
		} else {
			from += ":" + tag
		}
	}
	named, err := normalizeImageRef(from)
	if err != nil {
		writeError(c, err)
		return
	}
	// Errors before any output are plain HTTP errors; after the first message
	// they go in-band as errorDetail, which is what the CLI reads.
	started := false
	enc := func(m jsonmessage.JSONMessage) {
		if !started {
			c.Header("Content-Type", "application/json")
			c.Status(http.StatusOK)
			started = true
		}
		_ = writeJSONLine(c.Writer, m)
		c.Writer.Flush()
	}
	var pending []jsonmessage.JSONMessage
	first := true
	_, err = b.Pull(c.Request.Context(), named, registryAuth(c), func(m jsonmessage.JSONMessage) {
		// Hold the first message until the manifest resolved, so that a
		// missing image is a plain 404 as Docker answers it.
		if first {
			pending = append(pending, m)
			first = false
			return
		}
		for _, p := range pending {
			enc(p)
		}
		pending = nil
		enc(m)
	})
	if err != nil {
		if !started {
			writeError(c, err)
			return
		}
		enc(jsonmessage.JSONMessage{Error: &jsonmessage.JSONError{Message: err.Error()}, ErrorMessage: err.Error()})
		return
	}
	for _, p := range pending {
		enc(p)
	}
}

// handleImageInspect serves GET /images/{name}/json.
func (b *Backend) handleImageInspect(c *gin.Context) {
	ref := strings.TrimPrefix(c.Param("name"), "/")
	ref = strings.TrimSuffix(ref, "/json")
	img, ok := b.store.LookupImage(ref)
	if !ok {
		writeError(c, errNoSuchImage(ref))
		return
	}
	writeJSON(c, http.StatusOK, imageInspect(img))
}

// handleImageList serves GET /images/json, with the reference, dangling and
// label filters.
func (b *Backend) handleImageList(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(map[string]bool{"reference": true, "dangling": true, "label": true, "before": true, "since": true, "until": true})
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	out := []image.Summary{}
	for _, img := range b.store.Images() {
		tags, digests := img.RepoTags, img.RepoDigests
		if args.Contains("reference") {
			tags = matchReferences(img.RepoTags, args.Get("reference"))
			digests = matchReferences(img.RepoDigests, args.Get("reference"))
			if len(tags) == 0 && len(digests) == 0 {
				continue
			}
		}
		if args.Contains("dangling") && args.ExactMatch("dangling", "true") != (len(img.RepoTags) == 0) {
			continue
		}
		if args.Contains("label") && !args.MatchKVList("label", img.Config.Config.Labels) {
			continue
		}
		out = append(out, imageSummary(img, tags, digests, -1))
	}
	writeJSON(c, http.StatusOK, out)
}

// imageSummary is img as docker images and docker system df show it;
// containers is -1 when not counted.
func imageSummary(img *Image, tags, digests []string, containers int64) image.Summary {
	return image.Summary{
		ID: img.ID, RepoTags: nonNil(tags), RepoDigests: nonNil(digests),
		Created: img.Created.Unix(), Size: img.Size, SharedSize: -1, Containers: containers,
		Labels: img.Config.Config.Labels,
	}
}

// matchReferences keeps the tags that match one of the patterns, as Docker's
// reference filter does: "name" or "name:tag", with shell wildcards.
func matchReferences(tags, patterns []string) []string {
	var out []string
	for _, t := range tags {
		repo, _, _ := strings.Cut(t, "@")
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, t); ok {
				out = append(out, t)
				break
			}
			if ok, _ := path.Match(p, repo); ok {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

func imageInspect(img *Image) image.InspectResponse {
	cf := img.Config
	return image.InspectResponse{
		ID: img.ID, RepoTags: nonNil(img.RepoTags), RepoDigests: nonNil(img.RepoDigests),
		Created:      cf.Created.Format(time.RFC3339Nano),
		Config:       containerConfigFromImage(cf),
		Architecture: cf.Architecture, Os: cf.OS, Variant: cf.Variant,
		Size: img.Size,
		RootFS: image.RootFS{Type: "layers", Layers: func() []string {
			var out []string
			for _, d := range cf.RootFS.DiffIDs {
				out = append(out, d.String())
			}
			return out
		}()},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// containerConfigFromImage is the image's config in Docker's container.Config
// shape, as image inspect shows it.
func containerConfigFromImage(cf *v1.ConfigFile) *dockerspec.DockerOCIImageConfig {
	c := cf.Config
	out := &dockerspec.DockerOCIImageConfig{}
	out.User, out.Env, out.Entrypoint, out.Cmd = c.User, c.Env, c.Entrypoint, c.Cmd
	out.WorkingDir, out.Labels, out.StopSignal = c.WorkingDir, c.Labels, c.StopSignal
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			out.ExposedPorts[p] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	return out
}
