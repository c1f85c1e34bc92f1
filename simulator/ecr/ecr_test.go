package ecr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const acct = "123456789012"

type env struct {
	svc  *Service
	c    *ecrsdk.Client
	host string
}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	cfg := Config{Region: "us-east-1", AccountID: acct, DataDir: t.TempDir(), RegistryHost: host}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	// Mounted the way simulator/server.go mounts it.
	mux := http.NewServeMux()
	mux.Handle("/v2/", svc.Registry())
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		service, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		if service != "AmazonEC2ContainerRegistry_V20150921" {
			http.Error(w, "bad target", http.StatusBadRequest)
			return
		}
		svc.Handle(w, r, op)
	})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	c := ecrsdk.New(ecrsdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	return &env{svc: svc, c: c, host: host}
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Fatalf("want %s %q, got %s %q", code, msg, ae.ErrorCode(), ae.ErrorMessage())
	}
}

// auth logs in the way docker login does with GetAuthorizationToken.
func (e *env) auth(t *testing.T) authn.Authenticator {
	t.Helper()
	out, err := e.c.GetAuthorizationToken(context.Background(), &ecrsdk.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	d := out.AuthorizationData[0]
	if *d.ProxyEndpoint != "http://"+e.host || time.Until(*d.ExpiresAt) < 11*time.Hour {
		t.Fatalf("auth data %s %v", *d.ProxyEndpoint, d.ExpiresAt)
	}
	raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	if user != "AWS" {
		t.Fatalf("user %q", user)
	}
	return &authn.Basic{Username: user, Password: pass}
}

func TestRepositories(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	out, err := e.c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Repository
	if *r.RepositoryUri != e.host+"/team/app" || *r.RegistryId != acct ||
		*r.RepositoryArn != "arn:aws:ecr:us-east-1:123456789012:repository/team/app" || r.CreatedAt == nil {
		t.Fatalf("repository %+v", r)
	}
	_, err = e.c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	wantAPIError(t, err, "RepositoryAlreadyExistsException", "The repository with name 'team/app' already exists in the registry with id '123456789012'")
	for _, bad := range []string{"Upper", "a", "trailing/", "double//slash"} {
		_, err = e.c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String(bad)})
		wantAPIError(t, err, "InvalidParameterException", "")
	}
	if _, err := e.c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	var names []string
	p := ecrsdk.NewDescribeRepositoriesPaginator(e.c, &ecrsdk.DescribeRepositoriesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Repositories {
			names = append(names, *r.RepositoryName)
		}
	}
	if strings.Join(names, ",") != "other,team/app" {
		t.Fatalf("repositories %v", names)
	}
	_, err = e.c.DescribeRepositories(ctx, &ecrsdk.DescribeRepositoriesInput{RepositoryNames: []string{"nope"}})
	wantAPIError(t, err, "RepositoryNotFoundException", "The repository with name 'nope' does not exist in the registry with id '123456789012'")
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("typed error: %T", err)
	}

	// Not empty → refused unless forced.
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(e.host + "/other:v1")
	if err := remote.Write(ref, img, remote.WithAuth(e.auth(t))); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeleteRepository(ctx, &ecrsdk.DeleteRepositoryInput{RepositoryName: aws.String("other")})
	wantAPIError(t, err, "RepositoryNotEmptyException", "The repository with name 'other' in registry with id '123456789012' cannot be deleted because it still contains images")
	if _, err := e.c.DeleteRepository(ctx, &ecrsdk.DeleteRepositoryInput{RepositoryName: aws.String("other"), Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteRepository(ctx, &ecrsdk.DeleteRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeleteRepository(ctx, &ecrsdk.DeleteRepositoryInput{RepositoryName: aws.String("team/app")})
	wantAPIError(t, err, "RepositoryNotFoundException", "")
}

func TestPushAndImages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	auth := e.auth(t)

	// No credentials: 401 with a Basic challenge, as docker login expects.
	resp, err := http.Get("http://" + e.host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Fatalf("unauthenticated: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.host+"/v2/", nil)
	req.SetBasicAuth("AWS", "wrong")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()

	// A push to a repository never created is refused, as ECR does.
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(e.host + "/app:v1")
	err = remote.Write(ref, img, remote.WithAuth(auth))
	if err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("push to missing repository: %v", err)
	}

	if _, err := e.c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	ref2, _ := name.ParseReference(e.host + "/app:also")
	if err := remote.Write(ref2, img, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	img2, _ := random.Image(100, 1)
	ref3, _ := name.ParseReference(e.host + "/app:v2")
	if err := remote.Write(ref3, img2, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	rawManifest, _ := img.RawManifest()

	di, err := e.c.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if len(di.ImageDetails) != 2 {
		t.Fatalf("%d images", len(di.ImageDetails))
	}
	got := di.ImageDetails[0]
	if *got.ImageDigest != d1.String() || strings.Join(got.ImageTags, ",") != "also,v1" || *got.ImageSizeInBytes != 3*1024+0 && *got.ImageSizeInBytes <= 0 ||
		got.ImagePushedAt == nil || *got.ImageManifestMediaType == "" || *got.RegistryId != acct {
		t.Fatalf("image %+v", got)
	}
	one, err := e.c.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v2")}}})
	if err != nil || *one.ImageDetails[0].ImageDigest != d2.String() {
		t.Fatalf("by tag: %v", err)
	}
	_, err = e.c.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("nope")}}})
	wantAPIError(t, err, "ImageNotFoundException", "")
	_, err = e.c.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("missing")})
	wantAPIError(t, err, "RepositoryNotFoundException", "")

	li, err := e.c.ListImages(ctx, &ecrsdk.ListImagesInput{RepositoryName: aws.String("app")})
	if err != nil || len(li.ImageIds) != 3 {
		t.Fatalf("list: %v %d", err, len(li.ImageIds))
	}

	bg, err := e.c.BatchGetImage(ctx, &ecrsdk.BatchGetImageInput{RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(d2.String())}, {ImageTag: aws.String("gone")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Images) != 2 || *bg.Images[0].ImageManifest != string(rawManifest) || *bg.Images[0].ImageId.ImageDigest != d1.String() ||
		len(bg.Failures) != 1 || bg.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Fatalf("batch get %+v", bg)
	}

	// Deleting one of two tags keeps the image; its last tag deletes it.
	bd, err := e.c.BatchDeleteImage(ctx, &ecrsdk.BatchDeleteImageInput{RepositoryName: aws.String("app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("also")}}})
	if err != nil || len(bd.ImageIds) != 1 || len(bd.Failures) != 0 {
		t.Fatalf("delete tag: %v %+v", err, bd)
	}
	bd, err = e.c.BatchDeleteImage(ctx, &ecrsdk.BatchDeleteImageInput{RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(d2.String())}, {ImageTag: aws.String("nope")}}})
	if err != nil || len(bd.ImageIds) != 2 || len(bd.Failures) != 1 {
		t.Fatalf("delete: %v %+v", err, bd)
	}
	li, err = e.c.ListImages(ctx, &ecrsdk.ListImagesInput{RepositoryName: aws.String("app")})
	if err != nil || len(li.ImageIds) != 0 {
		t.Fatalf("after delete: %v %+v", err, li.ImageIds)
	}
	if _, err := remote.Get(ref, remote.WithAuth(auth)); err == nil {
		t.Fatal("deleted image still served")
	}
}

func TestResolveAndEngineAuth(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.c.CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String("fn")}); err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(e.host + "/fn:v1")
	if err := remote.Write(ref, img, remote.WithAuth(e.auth(t))); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	for _, uri := range []string{
		e.host + "/fn:v1",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/fn:v1",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/fn@" + d.String(),
	} {
		pullRef, digest, err := e.svc.Resolve(ctx, uri)
		if err != nil || digest != d.String() || pullRef != e.host+"/fn@"+d.String() {
			t.Fatalf("%s: %v %s %s", uri, err, pullRef, digest)
		}
	}
	for _, uri := range []string{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:v1",
		"999999999999.dkr.ecr.us-east-1.amazonaws.com/fn:v1",
		"docker.io/library/busybox:latest",
		e.host + "/fn:nope",
		e.host + "/missing:v1",
	} {
		if _, _, err := e.svc.Resolve(ctx, uri); err == nil {
			t.Fatalf("%s resolved", uri)
		}
	}
	raw, err := base64.URLEncoding.DecodeString(e.svc.EngineAuth())
	if err != nil {
		t.Fatal(err)
	}
	var a map[string]string
	if err := json.Unmarshal(raw, &a); err != nil || a["username"] != "AWS" || a["serveraddress"] != e.host || a["password"] == "" {
		t.Fatalf("engine auth %s", raw)
	}
}

func TestPullThroughRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	out, err := e.c.CreatePullThroughCacheRule(ctx, &ecrsdk.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("docker-hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")})
	if err != nil || *out.EcrRepositoryPrefix != "docker-hub" || out.UpstreamRegistry != types.UpstreamRegistryDockerHub {
		t.Fatalf("create: %v %+v", err, out)
	}
	_, err = e.c.CreatePullThroughCacheRule(ctx, &ecrsdk.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("docker-hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")})
	wantAPIError(t, err, "PullThroughCacheRuleAlreadyExistsException", "")
	d, err := e.c.DescribePullThroughCacheRules(ctx, &ecrsdk.DescribePullThroughCacheRulesInput{})
	if err != nil || len(d.PullThroughCacheRules) != 1 || *d.PullThroughCacheRules[0].UpstreamRegistryUrl != "registry-1.docker.io" {
		t.Fatalf("describe: %v %+v", err, d)
	}
	_, err = e.c.CreatePullThroughCacheRule(ctx, &ecrsdk.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("elsewhere"), UpstreamRegistryUrl: aws.String("registry.example.com")})
	wantAPIError(t, err, "UnsupportedUpstreamRegistryException", "The upstream registry URL 'registry.example.com' is not supported")
	_, err = e.c.CreatePullThroughCacheRule(ctx, &ecrsdk.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("Bad_Prefix"), UpstreamRegistryUrl: aws.String("public.ecr.aws")})
	wantAPIError(t, err, "InvalidParameterException", "")
	_, err = e.c.DescribePullThroughCacheRules(ctx, &ecrsdk.DescribePullThroughCacheRulesInput{RegistryId: aws.String("999999999999")})
	wantAPIError(t, err, "InvalidParameterException", "")
	_, err = e.c.DescribePullThroughCacheRules(ctx, &ecrsdk.DescribePullThroughCacheRulesInput{MaxResults: aws.Int32(1001)})
	wantAPIError(t, err, "InvalidParameterException", "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")
	_, err = e.c.DescribePullThroughCacheRules(ctx, &ecrsdk.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"nope"}})
	wantAPIError(t, err, "PullThroughCacheRuleNotFoundException", "")
	if _, err := e.c.DeletePullThroughCacheRule(ctx, &ecrsdk.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("docker-hub")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeletePullThroughCacheRule(ctx, &ecrsdk.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("docker-hub")})
	wantAPIError(t, err, "PullThroughCacheRuleNotFoundException", "")
}

// buildLocalImage builds a tiny image on the local engine: nothing can be
// pulled from anywhere in the test environment.
func buildLocalImage(t *testing.T, tag string) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI")
	}
	dir := t.TempDir()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox to build a test image from")
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /bin/busybox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "build", "-q", "-t", tag, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("docker build: %v: %s", err, out)
	}
}

func TestPullThroughFromLocalEngine(t *testing.T) {
	ctx := context.Background()
	buildLocalImage(t, "sockerless-test/ptc:latest")
	e := newEnv(t)
	if _, err := e.c.CreatePullThroughCacheRule(ctx, &ecrsdk.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("docker-hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")}); err != nil {
		t.Fatal(err)
	}
	auth := e.auth(t)
	ref, _ := name.ParseReference(e.host + "/docker-hub/sockerless-test/ptc:latest")
	t0 := time.Now()
	desc, err := remote.Get(ref, remote.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pull-through from the local engine took %v", time.Since(t0))
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, rc)
	rc.Close()
	if n < 1<<20 {
		t.Fatalf("layer holds %d bytes", n)
	}
	// The repository now exists and shows the image.
	di, err := e.c.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("docker-hub/sockerless-test/ptc")})
	if err != nil || len(di.ImageDetails) != 1 || *di.ImageDetails[0].ImageDigest != desc.Digest.String() {
		t.Fatalf("describe: %v %+v", err, di)
	}
	// Unknown images are the registry's 404; so is a path without namespace.
	for _, missing := range []string{"/docker-hub/sockerless-test/absent:latest", "/docker-hub/ptc:latest"} {
		r, _ := name.ParseReference(e.host + missing)
		if _, err := remote.Get(r, remote.WithAuth(auth)); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
			t.Fatalf("%s: %v", missing, err)
		}
	}

	// The engine pulls it with the X-Registry-Auth Lambda uses.
	pullRef, _, err := e.svc.Resolve(ctx, e.host+"/docker-hub/sockerless-test/ptc:latest")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rc, err = cli.ImagePull(ctx, pullRef, image.PullOptions{RegistryAuth: e.svc.EngineAuth()})
	if err != nil {
		t.Fatalf("engine pull %s: %v", pullRef, err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if strings.Contains(string(body), `"error"`) {
		t.Fatalf("engine pull %s: %s", pullRef, body)
	}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), pullRef, image.RemoveOptions{Force: true})
	})
	if _, err := cli.ImageInspect(ctx, pullRef); err != nil {
		t.Fatalf("pulled image not in the engine: %v", err)
	}
}
