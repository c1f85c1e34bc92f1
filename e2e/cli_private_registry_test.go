package e2e

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
)

// privateRegistry is a CNCF distribution registry on loopback that wants a
// user name and password (htpasswd), as a company's registry would: neither
// ECR nor behind a pull-through cache rule, so the backend copies its images
// into ECR with the client's credentials.
type privateRegistry struct {
	Host           string // 127.0.0.1:port
	User, Password string
}

func startPrivateRegistry() *privateRegistry {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	reg := &privateRegistry{User: "alice", Password: "s3cret-" + randomSuffix()}
	hash, err := bcrypt.GenerateFromPassword([]byte(reg.Password), bcrypt.MinCost)
	Expect(err).NotTo(HaveOccurred())
	htpasswd := filepath.Join(dir, "htpasswd")
	Expect(os.WriteFile(htpasswd, []byte(reg.User+":"+string(hash)+"\n"), 0o600)).To(Succeed())

	// distribution logs every request through logrus, and a 401 (every
	// client's first request) at error level.
	logrus.SetOutput(GinkgoWriter)
	logrus.SetLevel(logrus.FatalLevel)
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{
		"filesystem":  configuration.Parameters{"rootdirectory": filepath.Join(dir, "data")},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "sockerless-e2e", "path": htpasswd}}
	cfg.HTTP.Secret = "sockerless-e2e"
	app := handlers.NewApp(context.Background(), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	DeferCleanup(func() { _ = srv.Close() })
	reg.Host = ln.Addr().String()
	return reg
}

// hasManifest asks the registry itself whether repo:tag is there.
func (r *privateRegistry) hasManifest(repo, tag string) bool {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodHead, "http://"+r.Host+"/v2/"+repo+"/manifests/"+tag, nil)
	Expect(err).NotTo(HaveOccurred())
	req.SetBasicAuth(r.User, r.Password)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// dockerAs runs the docker CLI against host with its own DOCKER_CONFIG
// (where docker login keeps credentials).
func dockerAs(host, config, stdin string, args ...string) result {
	return runCLI("docker", args, []string{"DOCKER_HOST=" + host, "DOCKER_CONFIG=" + config, "DOCKER_CONTEXT="}, "", stdin)
}

var _ = Describe("a private registry (docker login, X-Registry-Auth)", Ordered, Serial, func() {
	var (
		reg       *privateRegistry
		loggedIn  string // a DOCKER_CONFIG logged in to reg through the backend
		backend   func(config string, args ...string) result
		engineCfg string
		image     string // reg.Host/team/busybox:1
	)

	BeforeAll(func() {
		reg = startPrivateRegistry()
		backend = func(config string, args ...string) result { return dockerAs(sut.DockerHost, config, "", args...) }
		engineHost := envOr("SOCKERLESS_E2E_ENGINE_HOST", "unix:///var/run/docker.sock")
		engine := func(args ...string) result { return dockerAs(engineHost, engineCfg, "", args...) }

		// The local engine (which treats 127.0.0.1 as an insecure registry, as
		// the backend does) puts the locally built busybox into the registry.
		engineCfg = GinkgoT().TempDir()
		r := dockerAs(engineHost, engineCfg, reg.Password+"\n", "login", reg.Host, "-u", reg.User, "--password-stdin")
		Expect(r.Code).To(Equal(0), r.Stderr)
		for _, tag := range []string{"1", "2"} {
			name := reg.Host + "/team/busybox:" + tag
			Expect(engine("tag", "busybox:latest", name).Code).To(Equal(0))
			r = engine("push", name)
			Expect(r.Code).To(Equal(0), r.Stderr)
			engine("rmi", name)
		}
		image = reg.Host + "/team/busybox:1"
		loggedIn = GinkgoT().TempDir()
	})

	AfterAll(func() {
		for _, tag := range []string{"1", "2"} {
			backend(loggedIn, "rmi", reg.Host+"/team/busybox:"+tag)
		}
	})

	It("checks docker login's credentials against the registry", func() {
		r := dockerAs(sut.DockerHost, loggedIn, "wrong\n", "login", reg.Host, "-u", reg.User, "--password-stdin")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("login attempt to http://" + reg.Host + "/v2/ failed with status: 401 Unauthorized"))

		r = dockerAs(sut.DockerHost, loggedIn, reg.Password+"\n", "login", reg.Host, "-u", reg.User, "--password-stdin")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("Login Succeeded"))
	})

	It("pulls with the credentials of docker login into an ECR mirror, keeping the name", func(ctx SpecContext) {
		r := backend(loggedIn, "pull", image)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("1: Pulling from team/busybox"))
		Expect(r.Stdout).To(MatchRegexp(`[0-9a-f]{12}: Pull complete`))
		Expect(r.Stdout).To(MatchRegexp(`Digest: sha256:[0-9a-f]{64}`))
		Expect(r.Stdout).To(ContainSubstring("Status: Downloaded newer image for " + image))

		r = backend(loggedIn, "images", "--format", "{{.Repository}}:{{.Tag}}", reg.Host+"/team/busybox")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(image + "\n"))
		// The local busybox may be the same image under other names.
		r = backend(loggedIn, "image", "inspect", "--format", "{{json .RepoTags}} {{json .RepoDigests}}", image)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring(`"` + image + `"`))
		Expect(r.Stdout).To(MatchRegexp(`"` + regexp.QuoteMeta(reg.Host) + `/team/busybox@sha256:[0-9a-f]{64}"`))

		// The copy Lambda runs from.
		repo := "sockerless/mirror/" + strings.ReplaceAll(reg.Host, ":", "-") + "/team/busybox"
		out, err := ecrAPI.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
		Expect(err).NotTo(HaveOccurred())
		var tags []string
		for _, d := range out.ImageDetails {
			tags = append(tags, d.ImageTags...)
		}
		Expect(tags).To(ContainElement("1"))

		r = backend(loggedIn, "pull", image)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("Already exists"))
		Expect(r.Stdout).To(ContainSubstring("Status: Image is up to date for " + image))
	})

	It("runs the pulled image", func() {
		r := backend(loggedIn, "run", "--rm", image, "echo", "hi")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("hi\n"))
	})

	It("runs an image it has not pulled yet: docker run pulls it with the stored credentials", func() {
		name := reg.Host + "/team/busybox:2"
		ctr := "e2e-private-" + randomSuffix()
		r := backend(loggedIn, "run", "--name", ctr, name, "echo", "pulled by run")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("pulled by run\n"))
		Expect(r.Stderr).To(ContainSubstring("Unable to find image '" + name + "' locally"))
		r = backend(loggedIn, "ps", "-a", "--filter", "name="+ctr, "--format", "{{.Image}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(name + "\n"))
		Expect(backend(loggedIn, "rm", ctr).Code).To(Equal(0))
	})

	It("refuses a pull without credentials or with wrong ones, saying unauthorized", func() {
		anonymous := GinkgoT().TempDir()
		r := backend(anonymous, "pull", reg.Host+"/team/busybox:2")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`"http://` + reg.Host + `/v2/team/busybox/manifests/2": unauthorized: authentication required`))
		Expect(r.Stderr).To(ContainSubstring("docker login " + reg.Host))

		wrong := GinkgoT().TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":wrong"))
		Expect(os.WriteFile(filepath.Join(wrong, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600)).To(Succeed())
		r = backend(wrong, "pull", reg.Host+"/team/busybox:2")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`"http://` + reg.Host + `/v2/team/busybox/manifests/2": unauthorized: authentication required`))
		Expect(r.Stderr).NotTo(ContainSubstring("docker login"))
	})

	It("says a missing tag or repository is not found", func() {
		r := backend(loggedIn, "pull", reg.Host+"/team/busybox:nope")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("Error response from daemon: manifest for " + reg.Host + "/team/busybox:nope not found: manifest unknown"))

		r = backend(loggedIn, "pull", reg.Host+"/team/none:1")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("not found"))

		r = backend(loggedIn, "run", "--rm", reg.Host+"/team/busybox:nope", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("manifest unknown"))
	})

	It("pushes an image to the registry with the credentials, and refuses without them", func() {
		Expect(backend(loggedIn, "pull", "busybox").Code).To(Equal(0))
		tag := randomSuffix()
		pushed := reg.Host + "/team/pushed:" + tag
		Expect(backend(loggedIn, "tag", "busybox", pushed).Code).To(Equal(0))
		DeferCleanup(func() { backend(loggedIn, "rmi", pushed) })

		anonymous := GinkgoT().TempDir()
		r := backend(anonymous, "push", pushed)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stdout).To(ContainSubstring("The push refers to repository [" + reg.Host + "/team/pushed]"))
		Expect(r.Stderr).To(ContainSubstring("unauthorized: authentication required"))

		r = backend(loggedIn, "push", pushed)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`[0-9a-f]{12}: Pushed`))
		Expect(r.Stdout).To(MatchRegexp(`: digest: sha256:[0-9a-f]{64} size: \d+`))
		Expect(reg.hasManifest("team/pushed", tag)).To(BeTrue(), "the registry does not have the pushed image")

		r = backend(loggedIn, "push", pushed)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("Layer already exists"))
	})

	It("keeps the pulled image across a backend restart", func() {
		if len(sut.backendEnv) == 0 {
			Skip("the suite runs against an external backend: it cannot restart it")
		}
		Expect(sut.restartBackendAfterKill()).To(Succeed())
		r := backend(loggedIn, "images", "--format", "{{.Repository}}:{{.Tag}}", reg.Host+"/team/busybox")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring(image + "\n"))
		r = backend(loggedIn, "run", "--rm", image, "echo", "after restart")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("after restart\n"))
	})
})
