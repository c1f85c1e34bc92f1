package ecr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"
	"github.com/opencontainers/go-digest"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

var prefixRE = regexp.MustCompile(`^` + repoNamePattern + `$`)

// upstreams maps the upstream registry URLs ECR accepts to the name its
// API reports for them.
var upstreams = map[string]string{
	"registry-1.docker.io":        "docker-hub",
	"public.ecr.aws":              "ecr-public",
	"registry.k8s.io":             "k8s",
	"quay.io":                     "quay",
	"ghcr.io":                     "github-container-registry",
	"registry.gitlab.com":         "gitlab-container-registry",
	"mcr.microsoft.com":           "azure-container-registry",
	"docker.io":                   "docker-hub",
	"index.docker.io":             "docker-hub",
	"public.ecr.aws/docker":       "ecr-public",
	"registry-1.docker.io:443":    "docker-hub",
	"registry.hub.docker.com":     "docker-hub",
	"registry.hub.docker.com:443": "docker-hub",
}

type ruleOut struct {
	EcrRepositoryPrefix string  `json:"ecrRepositoryPrefix"`
	UpstreamRegistryURL string  `json:"upstreamRegistryUrl"`
	UpstreamRegistry    string  `json:"upstreamRegistry"`
	CreatedAt           float64 `json:"createdAt"`
	UpdatedAt           float64 `json:"updatedAt"`
	RegistryID          string  `json:"registryId"`
	CredentialArn       string  `json:"credentialArn,omitempty"`
}

func (s *Service) ruleOut(r *ptcRule) ruleOut {
	return ruleOut{
		EcrRepositoryPrefix: r.Prefix, UpstreamRegistryURL: r.UpstreamURL, UpstreamRegistry: r.UpstreamName,
		CreatedAt: epoch(r.CreatedAt), UpdatedAt: epoch(r.CreatedAt), RegistryID: s.cfg.AccountID, CredentialArn: r.CredentialArn,
	}
}

func (s *Service) errRuleNotFound(prefix string) *awsapi.JSON11Error {
	return &awsapi.JSON11Error{Code: "PullThroughCacheRuleNotFoundException",
		Message: fmt.Sprintf("The pull through cache rule with prefix '%s' does not exist in the registry with id '%s'", prefix, s.cfg.AccountID)}
}

func (s *Service) createPullThroughCacheRule(r *http.Request) (any, error) {
	var req struct {
		EcrRepositoryPrefix string `json:"ecrRepositoryPrefix"`
		UpstreamRegistryURL string `json:"upstreamRegistryUrl"`
		UpstreamRegistry    string `json:"upstreamRegistry"`
		RegistryID          string `json:"registryId"`
		CredentialArn       string `json:"credentialArn"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return nil, err
	}
	if len(req.EcrRepositoryPrefix) < 2 || len(req.EcrRepositoryPrefix) > 30 || !prefixRE.MatchString(req.EcrRepositoryPrefix) {
		return nil, invalid("Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint: 'must satisfy regular expression '%s' and have length between 2 and 30'", repoNamePattern)
	}
	upstream, ok := upstreams[req.UpstreamRegistryURL]
	if !ok {
		return nil, &awsapi.JSON11Error{Code: "UnsupportedUpstreamRegistryException",
			Message: fmt.Sprintf("The upstream registry URL '%s' is not supported", req.UpstreamRegistryURL)}
	}
	rule := &ptcRule{Prefix: req.EcrRepositoryPrefix, UpstreamURL: req.UpstreamRegistryURL, UpstreamName: upstream,
		CredentialArn: req.CredentialArn, CreatedAt: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Rules[rule.Prefix]; ok {
		return nil, &awsapi.JSON11Error{Code: "PullThroughCacheRuleAlreadyExistsException",
			Message: fmt.Sprintf("A pull through cache rule with prefix '%s' already exists in the registry with id '%s'", rule.Prefix, s.cfg.AccountID)}
	}
	s.st.Rules[rule.Prefix] = rule
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return s.ruleOut(rule), nil
}

func (s *Service) describePullThroughCacheRules(r *http.Request) (any, error) {
	var req struct {
		RegistryID            string   `json:"registryId"`
		EcrRepositoryPrefixes []string `json:"ecrRepositoryPrefixes"`
		MaxResults            *int     `json:"maxResults"`
		NextToken             string   `json:"nextToken"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rules []ruleOut
	if len(req.EcrRepositoryPrefixes) > 0 {
		for _, p := range req.EcrRepositoryPrefixes {
			rule, ok := s.st.Rules[p]
			if !ok {
				return nil, s.errRuleNotFound(p)
			}
			rules = append(rules, s.ruleOut(rule))
		}
	} else {
		for _, rule := range s.st.Rules {
			rules = append(rules, s.ruleOut(rule))
		}
		sort.Slice(rules, func(i, j int) bool { return rules[i].EcrRepositoryPrefix < rules[j].EcrRepositoryPrefix })
	}
	page, next, err := paginate(rules, req.MaxResults, req.NextToken)
	if err != nil {
		return nil, err
	}
	return struct {
		Rules     []ruleOut `json:"pullThroughCacheRules"`
		NextToken string    `json:"nextToken,omitempty"`
	}{append([]ruleOut{}, page...), next}, nil
}

func (s *Service) deletePullThroughCacheRule(r *http.Request) (any, error) {
	var req struct {
		EcrRepositoryPrefix string `json:"ecrRepositoryPrefix"`
		RegistryID          string `json:"registryId"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rule, ok := s.st.Rules[req.EcrRepositoryPrefix]
	if !ok {
		return nil, s.errRuleNotFound(req.EcrRepositoryPrefix)
	}
	delete(s.st.Rules, rule.Prefix)
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return s.ruleOut(rule), nil
}

// ruleFor returns the rule whose prefix repository name falls under.
func (s *Service) ruleFor(repo string) *ptcRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, rule := range s.st.Rules {
		if strings.HasPrefix(repo, p+"/") {
			return rule
		}
	}
	return nil
}

// upstreamRef is the image repo:ref stands for upstream. Docker Hub paths
// must name the namespace, as in ECR: docker-hub/library/busybox, never
// docker-hub/busybox.
func upstreamRef(rule *ptcRule, repo, ref string) (name.Reference, error) {
	path := strings.TrimPrefix(repo, rule.Prefix+"/")
	host := rule.UpstreamURL
	if rule.UpstreamName == "docker-hub" {
		if !strings.Contains(path, "/") {
			return nil, fmt.Errorf("docker hub repository %q lacks its namespace (library/%s for official images)", path, path)
		}
		host = "index.docker.io"
	}
	sep := ":"
	if _, err := digest.Parse(ref); err == nil {
		sep = "@"
	}
	return name.ParseReference(host+"/"+path+sep+ref, name.StrictValidation)
}

// pullThrough fetches repo:ref for a pull-through rule and stores it:
// from the upstream registry when enabled, else (or failing that) from the
// local Docker engine's images. The repository is created as ECR does on
// the first pull.
func (s *Service) pullThrough(ctx context.Context, rule *ptcRule, repo, ref string) error {
	s.ptcMu.Lock()
	defer s.ptcMu.Unlock()
	if s.hasManifest(ctx, repo, ref) {
		return nil // fetched meanwhile
	}
	src, err := upstreamRef(rule, repo, ref)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var img v1.Image
	var errs []error
	if s.cfg.Upstream {
		if img, err = s.fetchUpstream(ctx, src); err != nil {
			errs = append(errs, fmt.Errorf("upstream: %w", err))
		}
	}
	if img == nil {
		if img, err = s.fetchLocal(ctx, src); err != nil {
			errs = append(errs, fmt.Errorf("local engine: %w", err))
		}
	}
	if img == nil {
		return errors.Join(errs...)
	}
	tag := ""
	if t, ok := src.(name.Tag); ok {
		tag = t.TagStr()
	}
	if err := s.ensureRepository(repo); err != nil {
		return err
	}
	d, err := s.storeImage(ctx, repo, tag, img)
	if err != nil {
		return fmt.Errorf("store %s: %w", src, err)
	}
	slog.Info("pull-through cache stored image", "repository", repo, "ref", ref, "source", src.String(), "digest", d)
	return nil
}

func (s *Service) fetchUpstream(ctx context.Context, ref name.Reference) (v1.Image, error) {
	tr := s.upstreamTransport
	if tr == nil {
		// Short timeouts: with no network this must fail fast and fall back.
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 15 * time.Second,
		}
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", ref, err)
	}
	return img, nil
}

// fetchLocal reads the image from the local engine; s.ptcMu is held.
func (s *Service) fetchLocal(ctx context.Context, ref name.Reference) (v1.Image, error) {
	if s.docker == nil {
		// ggcr v0.22 talks to the engine through the moby/moby client, which
		// negotiates down to the 20.10 engine's API 1.41.
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		s.docker = cli
	}
	img, err := daemon.Image(ref, daemon.WithClient(s.docker), daemon.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	// Force the engine round trip now, so a missing image is an error here.
	if _, err := img.Manifest(); err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

func logPullThrough(repo, ref string, err error) {
	slog.Warn("pull-through cache found nothing", "repository", repo, "ref", ref, "err", err)
}
