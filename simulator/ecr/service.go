// Package ecr simulates Amazon ECR: its API on the JSON 1.1 protocol
// (X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>) and the
// registry data plane, a real OCI Distribution registry (CNCF distribution,
// filesystem storage in the data directory) under /v2/.
package ecr

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/moby/moby/client"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
	"github.com/sockerless-lambda/sockerless/simulator/lambda"
)

// Config configures the service.
type Config struct {
	Region       string
	AccountID    string
	DataDir      string
	RegistryHost string // host:port of the simulator, where /v2/ is served
	Upstream     bool   // fetch Docker Hub images from the internet for pull-through rules
}

// Service is the simulated ECR.
type Service struct {
	cfg Config
	dir string
	// upstreamTransport reaches the upstream registries; nil means the
	// network. Tests route it to a local registry.
	upstreamTransport http.RoundTripper

	mu     sync.Mutex // guards st and its file
	st     state
	ptcMu  sync.Mutex     // one pull-through fetch at a time: no duplicate work
	docker *client.Client // the local engine, opened on the first pull-through; under ptcMu

	app      *handlers.App          // the registry's HTTP API
	ns       distribution.Namespace // the same storage, for the ECR API
	driver   storagedriver.StorageDriver
	registry http.Handler
}

var _ lambda.Images = (*Service)(nil)

// state is what ECR knows beyond the registry's content, kept in
// <data>/ecr/state.json.
type state struct {
	Password     string                 `json:"password"`
	Repositories map[string]*repository `json:"repositories"`
	Rules        map[string]*ptcRule    `json:"pullThroughCacheRules"`
}

type repository struct {
	Name               string    `json:"name"`
	CreatedAt          time.Time `json:"createdAt"`
	ImageTagMutability string    `json:"imageTagMutability"`
	ScanOnPush         bool      `json:"scanOnPush"`
	EncryptionType     string    `json:"encryptionType"`
	FromPullThrough    bool      `json:"fromPullThrough,omitempty"`
}

type ptcRule struct {
	Prefix         string    `json:"ecrRepositoryPrefix"`
	UpstreamURL    string    `json:"upstreamRegistryUrl"`
	UpstreamName   string    `json:"upstreamRegistry"`
	CredentialArn  string    `json:"credentialArn,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	UpstreamPrefix string    `json:"upstreamRepositoryPrefix,omitempty"`
}

// New opens the registry storage and ECR's state under cfg.DataDir/ecr.
func New(cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, dir: filepath.Join(cfg.DataDir, "ecr")}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.dir, err)
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.openRegistry(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the registry.
func (s *Service) Close() error {
	s.ptcMu.Lock()
	if s.docker != nil {
		_ = s.docker.Close()
		s.docker = nil
	}
	s.ptcMu.Unlock()
	if s.app != nil {
		return s.app.Shutdown()
	}
	return nil
}

func (s *Service) load() error {
	path := filepath.Join(s.dir, "state.json")
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		if err := json.Unmarshal(raw, &s.st); err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
	}
	if s.st.Repositories == nil {
		s.st.Repositories = map[string]*repository{}
	}
	if s.st.Rules == nil {
		s.st.Rules = map[string]*ptcRule{}
	}
	if s.st.Password == "" {
		// One password per data directory, so docker login survives a
		// restart. AWS's tokens expire after 12 h; this one does not.
		var b [24]byte
		_, _ = rand.Read(b[:])
		s.st.Password = hex.EncodeToString(b[:])
		return s.saveLocked()
	}
	return nil
}

// saveLocked writes the state atomically; s.mu is held (or not yet shared).
func (s *Service) saveLocked() error {
	raw, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ecr state: %w", err)
	}
	path := filepath.Join(s.dir, "state.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// Handle answers one API operation.
func (s *Service) Handle(w http.ResponseWriter, r *http.Request, op string) {
	var (
		out any
		err error
	)
	ctx := r.Context()
	switch op {
	case "CreateRepository":
		out, err = s.createRepository(r)
	case "DescribeRepositories":
		out, err = s.describeRepositories(r)
	case "DeleteRepository":
		out, err = s.deleteRepository(ctx, r)
	case "ListImages":
		out, err = s.listImages(ctx, r)
	case "DescribeImages":
		out, err = s.describeImages(ctx, r)
	case "BatchGetImage":
		out, err = s.batchGetImage(ctx, r)
	case "BatchDeleteImage":
		out, err = s.batchDeleteImage(ctx, r)
	case "GetAuthorizationToken":
		out, err = s.getAuthorizationToken(r)
	case "CreatePullThroughCacheRule":
		out, err = s.createPullThroughCacheRule(r)
	case "DescribePullThroughCacheRules":
		out, err = s.describePullThroughCacheRules(r)
	case "DeletePullThroughCacheRule":
		out, err = s.deletePullThroughCacheRule(r)
	default:
		err = &awsapi.JSON11Error{Code: "UnknownOperationException", Message: "Unknown operation " + op}
	}
	awsapi.RespondJSON11(w, "ecr", op, "ServerException", out, err)
}

func decode(r *http.Request, v any) error { return awsapi.DecodeJSON11(r, v) }

func invalid(format string, a ...any) *awsapi.JSON11Error {
	return &awsapi.JSON11Error{Code: "InvalidParameterException", Message: fmt.Sprintf(format, a...)}
}

// epoch is how JSON 1.1 carries timestamps: seconds, with a fraction.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
