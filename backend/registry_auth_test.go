package backend

import (
	"encoding/base64"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/docker/docker/api/types/registry"
	"github.com/gin-gonic/gin"
)

// ECR's rule for repository names.
var ecrRepoName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func TestMirrorRepository(t *testing.T) {
	for ref, want := range map[string]string{
		"127.0.0.1:5000/team/app:1":        "sockerless/mirror/127.0.0.1-5000/team/app",
		"localhost:5000/app":               "sockerless/mirror/localhost-5000/app",
		"[::1]:5000/app":                   "sockerless/mirror/1-5000/app",
		"Registry.Example.COM/a__b/c--d:1": "sockerless/mirror/registry.example.com/a-b/c-d",
		"ghcr.io/owner/some.name_x@sha256:" + "0123456789012345678901234567890123456789012345678901234567890123": "sockerless/mirror/ghcr.io/owner/some.name_x",
	} {
		named, err := normalizeImageRef(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		got := mirrorRepository("sockerless", named)
		if got != want {
			t.Errorf("mirrorRepository(%s) = %s, want %s", ref, got, want)
		}
		if !ecrRepoName.MatchString(got) {
			t.Errorf("mirrorRepository(%s) = %s: not a valid ECR repository name", ref, got)
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3:80": true, "localhost:5000": true, "localhost": true,
		"[::1]:5000": true, "10.0.0.1:5000": false, "registry.example.com": false, "ghcr.io": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%s) = %v, want %v", host, got, want)
		}
	}
}

func TestRegistryAuthHeader(t *testing.T) {
	gin.SetMode(gin.TestMode)
	js := `{"username":"alice","password":"p?>>~","serveraddress":"127.0.0.1:5000"}`
	for name, tc := range map[string]struct {
		header string
		user   string
	}{
		"absent":             {"", ""},
		"empty object":       {"e30=", ""},
		"base64url":          {base64.URLEncoding.EncodeToString([]byte(js)), "alice"},
		"standard base64":    {base64.StdEncoding.EncodeToString([]byte(js)), "alice"},
		"unpadded base64url": {base64.RawURLEncoding.EncodeToString([]byte(js)), "alice"},
		"garbage":            {"!!!", ""},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/images/create", nil)
		if tc.header != "" {
			c.Request.Header.Set(registry.AuthHeader, tc.header)
		}
		ac := registryAuth(c)
		if ac.Username != tc.user {
			t.Errorf("%s: username %q, want %q", name, ac.Username, tc.user)
		}
		if tc.user != "" && ac.Password != "p?>>~" {
			t.Errorf("%s: password %q", name, ac.Password)
		}
		if anonymous(ac) != (tc.user == "") {
			t.Errorf("%s: anonymous = %v", name, anonymous(ac))
		}
	}
}

func TestLoginServer(t *testing.T) {
	for addr, want := range map[string]struct {
		host      string
		plainHTTP bool
	}{
		"":                            {"index.docker.io", false},
		"https://index.docker.io/v1/": {"index.docker.io", false},
		"docker.io":                   {"index.docker.io", false},
		"127.0.0.1:5000":              {"127.0.0.1:5000", false},
		"http://127.0.0.1:5000":       {"127.0.0.1:5000", true},
		"https://ghcr.io":             {"ghcr.io", false},
	} {
		host, plain, err := loginServer(addr)
		if err != nil || host != want.host || plain != want.plainHTTP {
			t.Errorf("loginServer(%q) = %s, %v, %v; want %s, %v", addr, host, plain, err, want.host, want.plainHTTP)
		}
	}
}
