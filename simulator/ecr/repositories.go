package ecr

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/distribution/reference"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

const repoNamePattern = `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`

var repoNameRE = regexp.MustCompile(`^` + repoNamePattern + `$`)

func validRepoName(name string) error {
	if len(name) < 2 || len(name) > 256 {
		return invalid("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must have length between 2 and 256'")
	}
	if !repoNameRE.MatchString(name) {
		return invalid("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repoNamePattern)
	}
	return nil
}

func (s *Service) errRepoNotFound(name string) *awsapi.JSON11Error {
	return &awsapi.JSON11Error{Code: "RepositoryNotFoundException",
		Message: fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, s.cfg.AccountID)}
}

type repositoryOut struct {
	RepositoryArn              string  `json:"repositoryArn"`
	RegistryID                 string  `json:"registryId"`
	RepositoryName             string  `json:"repositoryName"`
	RepositoryURI              string  `json:"repositoryUri"`
	CreatedAt                  float64 `json:"createdAt"`
	ImageTagMutability         string  `json:"imageTagMutability"`
	ImageScanningConfiguration struct {
		ScanOnPush bool `json:"scanOnPush"`
	} `json:"imageScanningConfiguration"`
	EncryptionConfiguration struct {
		EncryptionType string `json:"encryptionType"`
	} `json:"encryptionConfiguration"`
}

// RepositoryURI is how images in name are addressed: the simulator's own
// registry, which the local engine pulls from over plain HTTP.
func (s *Service) RepositoryURI(name string) string { return s.cfg.RegistryHost + "/" + name }

func (s *Service) repositoryOut(r *repository) repositoryOut {
	o := repositoryOut{
		RepositoryArn:  fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", s.cfg.Region, s.cfg.AccountID, r.Name),
		RegistryID:     s.cfg.AccountID,
		RepositoryName: r.Name, RepositoryURI: s.RepositoryURI(r.Name),
		CreatedAt: epoch(r.CreatedAt), ImageTagMutability: r.ImageTagMutability,
	}
	o.ImageScanningConfiguration.ScanOnPush = r.ScanOnPush
	o.EncryptionConfiguration.EncryptionType = r.EncryptionType
	return o
}

func (s *Service) checkRegistryID(id string) error {
	if id != "" && id != s.cfg.AccountID {
		return invalid("Invalid parameter at 'registryId' failed to satisfy constraint: 'registryId must be the caller's account id'")
	}
	return nil
}

func (s *Service) createRepository(r *http.Request) (any, error) {
	var req struct {
		RegistryID                 string `json:"registryId"`
		RepositoryName             string `json:"repositoryName"`
		ImageTagMutability         string `json:"imageTagMutability"`
		ImageScanningConfiguration *struct {
			ScanOnPush bool `json:"scanOnPush"`
		} `json:"imageScanningConfiguration"`
		EncryptionConfiguration *struct {
			EncryptionType string `json:"encryptionType"`
		} `json:"encryptionConfiguration"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return nil, err
	}
	if err := validRepoName(req.RepositoryName); err != nil {
		return nil, err
	}
	repo := &repository{Name: req.RepositoryName, CreatedAt: time.Now(), ImageTagMutability: "MUTABLE", EncryptionType: "AES256"}
	switch req.ImageTagMutability {
	case "", "MUTABLE":
	case "IMMUTABLE":
		repo.ImageTagMutability = "IMMUTABLE"
	default:
		return nil, invalid("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE]'")
	}
	if c := req.ImageScanningConfiguration; c != nil {
		repo.ScanOnPush = c.ScanOnPush
	}
	if c := req.EncryptionConfiguration; c != nil && c.EncryptionType != "" {
		repo.EncryptionType = c.EncryptionType
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Repositories[repo.Name]; ok {
		return nil, &awsapi.JSON11Error{Code: "RepositoryAlreadyExistsException",
			Message: fmt.Sprintf("The repository with name '%s' already exists in the registry with id '%s'", repo.Name, s.cfg.AccountID)}
	}
	s.st.Repositories[repo.Name] = repo
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return map[string]any{"repository": s.repositoryOut(repo)}, nil
}

// ensureRepository creates name unless it exists (pull-through cache).
func (s *Service) ensureRepository(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Repositories[name]; ok {
		return nil
	}
	s.st.Repositories[name] = &repository{Name: name, CreatedAt: time.Now(), ImageTagMutability: "MUTABLE", EncryptionType: "AES256", FromPullThrough: true}
	return s.saveLocked()
}

func (s *Service) repositoryExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.st.Repositories[name]
	return ok
}

func (s *Service) describeRepositories(r *http.Request) (any, error) {
	var req struct {
		RegistryID      string   `json:"registryId"`
		RepositoryNames []string `json:"repositoryNames"`
		MaxResults      *int     `json:"maxResults"`
		NextToken       string   `json:"nextToken"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := struct {
		Repositories []repositoryOut `json:"repositories"`
		NextToken    string          `json:"nextToken,omitempty"`
	}{Repositories: []repositoryOut{}}
	if len(req.RepositoryNames) > 0 {
		if req.MaxResults != nil || req.NextToken != "" {
			return nil, invalid("Invalid parameter at 'maxResults, nextToken' failed to satisfy constraint: 'maxResults and nextToken cannot be specified with repositoryNames'")
		}
		for _, n := range req.RepositoryNames {
			repo, ok := s.st.Repositories[n]
			if !ok {
				return nil, s.errRepoNotFound(n)
			}
			out.Repositories = append(out.Repositories, s.repositoryOut(repo))
		}
		return out, nil
	}
	names := make([]string, 0, len(s.st.Repositories))
	for n := range s.st.Repositories {
		names = append(names, n)
	}
	sort.Strings(names)
	page, next, err := paginate(names, req.MaxResults, req.NextToken)
	if err != nil {
		return nil, err
	}
	for _, n := range page {
		out.Repositories = append(out.Repositories, s.repositoryOut(s.st.Repositories[n]))
	}
	out.NextToken = next
	return out, nil
}

// paginate pages a sorted list by offset, with maxResults 1–1000.
func paginate[T any](items []T, maxResults *int, token string) ([]T, string, error) {
	limit := 1000
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 1000 {
			return nil, "", invalid("Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")
		}
		limit = *maxResults
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			return nil, "", invalid("Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'")
		}
		start = n
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

func (s *Service) deleteRepository(ctx context.Context, r *http.Request) (any, error) {
	var req struct {
		RegistryID     string `json:"registryId"`
		RepositoryName string `json:"repositoryName"`
		Force          bool   `json:"force"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.checkRegistryID(req.RegistryID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	repo, ok := s.st.Repositories[req.RepositoryName]
	s.mu.Unlock()
	if !ok {
		return nil, s.errRepoNotFound(req.RepositoryName)
	}
	images, err := s.images(ctx, repo.Name)
	if err != nil {
		return nil, err
	}
	if len(images) > 0 && !req.Force {
		return nil, &awsapi.JSON11Error{Code: "RepositoryNotEmptyException",
			Message: fmt.Sprintf("The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", repo.Name, s.cfg.AccountID)}
	}
	named, err := reference.WithName(repo.Name)
	if err != nil {
		return nil, fmt.Errorf("repository name %s: %w", repo.Name, err)
	}
	if err := s.removeRepository(ctx, named); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.st.Repositories, repo.Name)
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return map[string]any{"repository": s.repositoryOut(repo)}, nil
}
