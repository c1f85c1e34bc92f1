package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

// openRegistry starts the CNCF distribution registry on the filesystem
// under <data>/ecr/registry, and a second view of the same storage for the
// ECR API (both see every write: no cache is configured).
func (s *Service) openRegistry() (err error) {
	root := filepath.Join(s.dir, "registry")
	// distribution logs every request at info level through logrus, and
	// every 4xx (a HEAD before a push, say) at error level: keep only the
	// server's own failures.
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetFormatter(serverErrorsOnly{logrus.StandardLogger().Formatter})
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{
		"filesystem":  configuration.Parameters{"rootdirectory": root},
		"delete":      configuration.Parameters{"enabled": true},
		"redirect":    configuration.Parameters{"disable": true},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	cfg.HTTP.Secret = s.st.Password // signs upload state; stable across restarts
	defer func() {
		// NewApp reports a bad configuration by panicking.
		if p := recover(); p != nil {
			err = fmt.Errorf("start registry: %v", p)
		}
	}()
	s.app = handlers.NewApp(context.Background(), cfg)
	s.driver = filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
	if s.ns, err = storage.NewRegistry(context.Background(), s.driver, storage.EnableDelete); err != nil {
		return fmt.Errorf("open registry storage: %w", err)
	}
	s.registry = http.HandlerFunc(s.serveRegistry)
	return nil
}

// Registry is the OCI Distribution registry handler, mounted at /v2/.
func (s *Service) Registry() http.Handler { return s.registry }

// v2Path splits /v2/<name>/<kind>/<rest>; name is empty for /v2/ and
// /v2/_catalog.
var v2Path = regexp.MustCompile(`^/v2/(.+?)/(manifests|blobs|tags)/(.*)$`)

// serveRegistry adds what ECR does in front of a plain registry: Basic
// authentication with the GetAuthorizationToken password, repositories that
// must be created first, and pull-through cache on first pull.
func (s *Service) serveRegistry(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="http://%s/",service="ecr.amazonaws.com"`, s.cfg.RegistryHost))
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
		return
	}
	m := v2Path.FindStringSubmatch(r.URL.Path)
	if m == nil {
		s.app.ServeHTTP(w, r)
		return
	}
	name, kind, ref := m[1], m[2], m[3]
	if kind == "manifests" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if rule := s.ruleFor(name); rule != nil && !s.hasManifest(r.Context(), name, ref) {
			if err := s.pullThrough(r.Context(), rule, name, ref); err != nil {
				// The registry's own 404 follows.
				logPullThrough(name, ref, err)
			}
		}
	}
	if !s.repositoryExists(name) {
		writeRegistryError(w, http.StatusNotFound, "NAME_UNKNOWN",
			fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, s.cfg.AccountID),
			map[string]string{"name": name})
		return
	}
	s.app.ServeHTTP(w, r)
}

func writeRegistryError(w http.ResponseWriter, status int, code, message string, detail any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": code, "message": message, "detail": detail}}})
}

func (s *Service) repo(ctx context.Context, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, fmt.Errorf("repository name %q: %w", name, err)
	}
	return s.ns.Repository(ctx, named)
}

// hasManifest reports whether ref (a tag or digest) is in repository name.
func (s *Service) hasManifest(ctx context.Context, name, ref string) bool {
	_, err := s.lookup(ctx, name, ref)
	return err == nil
}

var errImageNotFound = errors.New("image not found")

// lookup resolves ref (a tag or a digest) to the manifest's digest.
func (s *Service) lookup(ctx context.Context, name, ref string) (digest.Digest, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return "", err
	}
	if d, err := digest.Parse(ref); err == nil {
		ms, err := repo.Manifests(ctx)
		if err != nil {
			return "", err
		}
		if ok, err := ms.Exists(ctx, d); err != nil || !ok {
			return "", errImageNotFound
		}
		return d, nil
	}
	desc, err := repo.Tags(ctx).Get(ctx, ref)
	if err != nil {
		return "", errImageNotFound
	}
	return desc.Digest, nil
}

// imageInfo is one manifest in a repository, as DescribeImages shows it.
type imageInfo struct {
	Digest            digest.Digest
	Tags              []string
	MediaType         string
	ArtifactMediaType string
	Size              int64
	PushedAt          time.Time
	Manifest          []byte
}

// images lists the manifests in repository name, with their tags, in
// push order.
func (s *Service) images(ctx context.Context, name string) ([]imageInfo, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return nil, err
	}
	tags, err := repo.Tags(ctx).All(ctx)
	var unknown distribution.ErrRepositoryUnknown
	if err != nil && !errors.As(err, &unknown) {
		return nil, fmt.Errorf("list tags of %s: %w", name, err)
	}
	byDigest := map[digest.Digest][]string{}
	for _, t := range tags {
		desc, err := repo.Tags(ctx).Get(ctx, t)
		if err != nil {
			continue // untagged concurrently
		}
		byDigest[desc.Digest] = append(byDigest[desc.Digest], t)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return nil, fmt.Errorf("manifests of %s: %w", name, err)
	}
	var digests []digest.Digest
	err = ms.(distribution.ManifestEnumerator).Enumerate(ctx, func(d digest.Digest) error {
		digests = append(digests, d)
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return nil, fmt.Errorf("list manifests of %s: %w", name, err)
	}
	out := make([]imageInfo, 0, len(digests))
	for _, d := range digests {
		info, err := s.imageInfo(ctx, ms, name, d)
		if err != nil {
			continue // deleted concurrently
		}
		info.Tags = byDigest[d]
		sort.Strings(info.Tags)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PushedAt.Before(out[j].PushedAt) })
	return out, nil
}

func (s *Service) imageInfo(ctx context.Context, ms distribution.ManifestService, name string, d digest.Digest) (imageInfo, error) {
	m, err := ms.Get(ctx, d)
	if err != nil {
		return imageInfo{}, err
	}
	mt, payload, err := m.Payload()
	if err != nil {
		return imageInfo{}, err
	}
	info := imageInfo{Digest: d, MediaType: mt, Manifest: payload}
	var parsed struct {
		Config struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
	}
	if json.Unmarshal(payload, &parsed) == nil {
		info.ArtifactMediaType = parsed.Config.MediaType
		// ECR reports the compressed size of the layers.
		for _, l := range parsed.Layers {
			info.Size += l.Size
		}
	}
	link := fmt.Sprintf("/docker/registry/v2/repositories/%s/_manifests/revisions/%s/%s/link", name, d.Algorithm(), d.Encoded())
	if fi, err := s.driver.Stat(ctx, link); err == nil {
		info.PushedAt = fi.ModTime()
	}
	return info, nil
}

// deleteImage removes a manifest and every tag pointing at it.
func (s *Service) deleteImage(ctx context.Context, name string, d digest.Digest, tags []string) error {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := repo.Tags(ctx).Untag(ctx, t); err != nil {
			return fmt.Errorf("untag %s:%s: %w", name, t, err)
		}
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	if err := ms.Delete(ctx, d); err != nil {
		return fmt.Errorf("delete %s@%s: %w", name, d, err)
	}
	return nil
}

func (s *Service) untag(ctx context.Context, name, tag string) error {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return err
	}
	return repo.Tags(ctx).Untag(ctx, tag)
}

func (s *Service) removeRepository(ctx context.Context, named reference.Named) error {
	err := s.ns.(distribution.RepositoryRemover).Remove(ctx, named)
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("remove repository %s: %w", named.Name(), err)
	}
	return nil
}

// storeImage writes img (layers, config, manifest) into repository name
// through the storage API, tagged with tag unless it is empty.
func (s *Service) storeImage(ctx context.Context, name, tag string, img v1.Image) (digest.Digest, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return "", err
	}
	blobs := repo.Blobs(ctx)
	layers, err := img.Layers()
	if err != nil {
		return "", fmt.Errorf("layers: %w", err)
	}
	for _, l := range layers {
		if err := putLayer(ctx, blobs, l); err != nil {
			return "", err
		}
	}
	cfgMT := "application/vnd.docker.container.image.v1+json"
	if m, err := img.Manifest(); err == nil && m.Config.MediaType != "" {
		cfgMT = string(m.Config.MediaType)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	if _, err := blobs.Put(ctx, cfgMT, rawCfg); err != nil {
		return "", fmt.Errorf("store config: %w", err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return "", fmt.Errorf("manifest media type: %w", err)
	}
	m, _, err := distribution.UnmarshalManifest(string(mt), rawManifest)
	if err != nil {
		return "", fmt.Errorf("parse manifest: %w", err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return "", err
	}
	d, err := ms.Put(ctx, m)
	if err != nil {
		return "", fmt.Errorf("store manifest: %w", err)
	}
	if tag != "" {
		if err := repo.Tags(ctx).Tag(ctx, tag, ocispec.Descriptor{MediaType: string(mt), Digest: d, Size: int64(len(rawManifest))}); err != nil {
			return "", fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	return d, nil
}

func putLayer(ctx context.Context, blobs distribution.BlobStore, l v1.Layer) error {
	h, err := l.Digest()
	if err != nil {
		return fmt.Errorf("layer digest: %w", err)
	}
	d := digest.Digest(h.String())
	if _, err := blobs.Stat(ctx, d); err == nil {
		return nil
	}
	size, err := l.Size()
	if err != nil {
		return fmt.Errorf("layer size: %w", err)
	}
	mt, err := l.MediaType()
	if err != nil {
		return fmt.Errorf("layer media type: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("read layer %s: %w", d, err)
	}
	defer rc.Close()
	w, err := blobs.Create(ctx)
	if err != nil {
		return fmt.Errorf("start upload of %s: %w", d, err)
	}
	if _, err := io.Copy(w, rc); err != nil {
		_ = w.Cancel(ctx)
		return fmt.Errorf("upload %s: %w", d, err)
	}
	if _, err := w.Commit(ctx, ocispec.Descriptor{MediaType: string(mt), Digest: d, Size: size}); err != nil {
		return fmt.Errorf("commit %s: %w", d, err)
	}
	return nil
}

// serverErrorsOnly drops the registry's log entries about requests answered
// with a client error, which are the client's business, not the simulator's.
type serverErrorsOnly struct{ next logrus.Formatter }

func (f serverErrorsOnly) Format(e *logrus.Entry) ([]byte, error) {
	if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
		return nil, nil
	}
	return f.next.Format(e)
}
