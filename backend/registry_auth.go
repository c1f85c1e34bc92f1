package backend

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/registry"
	"github.com/gin-gonic/gin"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registries other than ECR: Lambda runs images from the function's own ECR
// only, so an image of another registry is copied into ECR (a mirror
// repository) at pull, with the credentials the client sends in
// X-Registry-Auth, and a push to another registry is copied out of ECR.

// registryAuth decodes the X-Registry-Auth header as dockerd does: base64url
// JSON of registry.AuthConfig; an empty or unreadable header means anonymous.
// Some clients use the standard base64 alphabet; that is accepted too.
func registryAuth(c *gin.Context) *registry.AuthConfig {
	raw := strings.TrimSpace(c.GetHeader(registry.AuthHeader))
	if raw == "" {
		return &registry.AuthConfig{}
	}
	if ac, err := registry.DecodeAuthConfig(raw); err == nil {
		return ac
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(raw); err == nil {
			var ac registry.AuthConfig
			if json.Unmarshal(b, &ac) == nil {
				return &ac
			}
		}
	}
	return &registry.AuthConfig{}
}

// authenticator is the go-containerregistry form of a Docker AuthConfig.
func authenticator(ac *registry.AuthConfig) authn.Authenticator {
	if ac == nil || anonymous(ac) {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	})
}

func anonymous(ac *registry.AuthConfig) bool {
	return ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == ""
}

// loopbackHost reports whether a registry host (with or without port) is on
// loopback: dockerd's default insecure registries are 127.0.0.0/8, and it
// treats localhost alike. Such registries are tried over HTTPS, then plain HTTP.
func loopbackHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// foreignRef is a Docker reference of another registry in
// go-containerregistry's form; Docker Hub names become index.docker.io.
func foreignRef(named reference.Named) (name.Reference, error) {
	var opts []name.Option
	if loopbackHost(reference.Domain(named)) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(named.String(), opts...)
	if err != nil {
		return nil, badRequest("invalid reference format: %s", err)
	}
	return r, nil
}

// mirrorRepository is the ECR repository that holds the copies of an image
// of another registry: <SOCKERLESS_ECR_REPOSITORY>/mirror/<host>/<path>, with
// each component made valid for ECR (lowercase letters and digits, single
// '.', '_' or '-' between them), e.g. sockerless/mirror/127.0.0.1-5000/team/app.
func mirrorRepository(prefix string, named reference.Named) string {
	parts := []string{prefix, "mirror", ecrComponent(reference.Domain(named))}
	for _, p := range strings.Split(reference.Path(named), "/") {
		parts = append(parts, ecrComponent(p))
	}
	return strings.Join(parts, "/")
}

// ecrComponent maps s to one ECR repository name component: lowercase
// letters and digits, joined by single separators ('.', '_' or '-'; any
// other character, or a run of them, becomes '-').
func ecrComponent(s string) string {
	var b strings.Builder
	sep, n := '-', 0 // the separator to write before the next letter or digit; how many were seen
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if n > 0 && b.Len() > 0 {
				if n > 1 {
					sep = '-'
				}
				b.WriteRune(sep)
			}
			n = 0
			b.WriteRune(r)
			continue
		}
		if n == 0 {
			sep = '-'
			if r == '.' || r == '_' || r == '-' {
				sep = r
			}
		}
		n++
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// registryError words a failure talking to a registry other than ECR as
// dockerd does: missing images are 404 (the CLI's `docker run` then says so),
// a refused authentication names the request and says unauthorized (500, as
// dockerd answers it, so that the CLI does not start an interactive login).
func registryError(named reference.Named, err error, anon bool) error {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode:
				return notFound("manifest for %s not found: manifest unknown: %s", familiarString(named), d.Message)
			case transport.NameUnknownErrorCode:
				return notFound("repository %s not found: name unknown: %s", reference.FamiliarName(named), d.Message)
			case transport.DeniedErrorCode:
				return notFound("pull access denied for %s, repository does not exist or may require 'docker login': denied: %s", reference.FamiliarName(named), d.Message)
			case transport.UnauthorizedErrorCode:
				return unauthorizedError(named, te, d.Message, anon)
			}
		}
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return unauthorizedError(named, te, "authentication required", anon)
		case http.StatusNotFound:
			return notFound("manifest for %s not found: manifest unknown: manifest unknown", familiarString(named))
		}
	}
	return errorf(http.StatusInternalServerError, "%s", err)
}

func unauthorizedError(named reference.Named, te *transport.Error, msg string, anon bool) error {
	s := "unauthorized: " + msg
	if te.Request != nil && te.Request.URL != nil {
		m := te.Request.Method
		op := m[:1] + strings.ToLower(m[1:])
		s = fmt.Sprintf("%s %q: %s", op, te.Request.URL.Redacted(), s)
	}
	if anon {
		host := reference.Domain(named)
		s += fmt.Sprintf(" (no basic auth credentials were sent: docker login %s)", host)
	}
	return errorf(http.StatusInternalServerError, "%s", s)
}

// handleAuth serves POST /auth (docker login). This account's ECR registry
// needs no login (the backend uses its own AWS credentials); for any other
// registry the credentials are checked against its /v2/ endpoint, as dockerd
// does, and the client keeps them and sends them with each pull and push.
func (b *Backend) handleAuth(c *gin.Context) {
	var req registry.AuthConfig
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	_, host, err := b.registry.credentials(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	server, plainHTTP, err := loginServer(req.ServerAddress)
	if err != nil {
		writeError(c, err)
		return
	}
	if server == host {
		writeJSON(c, http.StatusOK, registry.AuthenticateOKBody{Status: "Login Succeeded"})
		return
	}
	if err := login(c.Request.Context(), server, plainHTTP, &req); err != nil {
		writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, registry.AuthenticateOKBody{Status: "Login Succeeded"})
}

// loginServer is the registry host of a login's server address, which may
// be a host, a URL, or Docker Hub's legacy https://index.docker.io/v1/.
func loginServer(addr string) (host string, plainHTTP bool, _ error) {
	if addr == "" {
		return name.DefaultRegistry, false, nil
	}
	s := addr
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", false, badRequest("unable to parse server address: %s", addr)
	}
	host = u.Host
	switch host {
	case "docker.io", "registry-1.docker.io":
		host = name.DefaultRegistry
	}
	return host, u.Scheme == "http", nil
}

// login checks credentials against a registry's /v2/ endpoint: the
// authentication handshake it asks for (Basic, or a Bearer token from its
// token service), then GET /v2/ with them, which must answer 200.
func login(ctx context.Context, host string, plainHTTP bool, ac *registry.AuthConfig) error {
	var opts []name.Option
	if plainHTTP || loopbackHost(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return badRequest("invalid registry %s: %s", host, err)
	}
	// Ping first, to show the URL the registry is reached at in errors.
	ch, err := transport.Ping(ctx, reg, remote.DefaultTransport)
	if err != nil {
		return errorf(http.StatusInternalServerError, "%s", err)
	}
	scheme := "https"
	if ch.Insecure {
		scheme = "http"
	}
	endpoint := scheme + "://" + reg.RegistryStr() + "/v2/"
	rt, err := transport.NewWithContext(ctx, reg, authenticator(ac), remote.DefaultTransport, nil)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
			msg := http.StatusText(te.StatusCode)
			if len(te.Errors) > 0 {
				msg = te.Errors[0].Message
			}
			return errorf(http.StatusUnauthorized, "Get %q: unauthorized: %s", endpoint, msg)
		}
		return errorf(http.StatusInternalServerError, "%s", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return errorf(http.StatusInternalServerError, "%s", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return errorf(http.StatusUnauthorized, "login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return errorf(http.StatusInternalServerError, "login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
}
