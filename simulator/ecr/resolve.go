package ecr

import (
	"context"
	"fmt"

	"github.com/distribution/reference"
)

// Resolve implements lambda.Images: imageURI names the simulator's registry
// host, or ECR's own host for this account and region
// (<acct>.dkr.ecr.<region>.amazonaws.com); a tag is resolved to the digest
// it points at now, as Lambda does at CreateFunction.
func (s *Service) Resolve(ctx context.Context, imageURI string) (string, string, error) {
	ref, err := reference.ParseNamed(imageURI)
	if err != nil {
		return "", "", fmt.Errorf("image URI %q: %w", imageURI, err)
	}
	host, name := reference.Domain(ref), reference.Path(ref)
	ecrHost := fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com", s.cfg.AccountID, s.cfg.Region)
	if host != s.cfg.RegistryHost && host != ecrHost {
		return "", "", fmt.Errorf("image URI %q: registry %s is neither %s nor %s", imageURI, host, ecrHost, s.cfg.RegistryHost)
	}
	if !s.repositoryExists(name) {
		return "", "", fmt.Errorf("image URI %q: repository %s does not exist", imageURI, name)
	}
	want := "latest"
	if t, ok := ref.(reference.Tagged); ok {
		want = t.Tag()
	}
	if d, ok := ref.(reference.Digested); ok {
		want = d.Digest().String()
	}
	d, err := s.lookup(ctx, name, want)
	if err != nil {
		return "", "", fmt.Errorf("image URI %q: %s not found in repository %s: %w", imageURI, want, name, err)
	}
	return s.cfg.RegistryHost + "/" + name + "@" + d.String(), d.String(), nil
}
