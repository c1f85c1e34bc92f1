package backend

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// APIVersion is the Docker Engine API version the backend speaks; clients
// negotiate down from theirs to it.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.24"
)

// Version is the backend's version, set at build time.
var Version = "dev"

// Backend is the daemon: the Docker API on one listener, the agents'
// callback listener on another.
type Backend struct {
	cfg      Config
	aws      *AWS
	store    *Store
	registry *Registry
	deriver  *deriver
	agents   *agents
	journal  *journal
	events   eventBus
	networks *networks
	volumes  *volumes

	api      *http.Server
	apiLn    net.Listener
	callback net.Listener
}

// New connects to AWS (or the simulator) and prepares the listeners.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	clients, err := NewAWS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, aws: clients, store: NewStore(), networks: newNetworks(cfg.LogGroup), volumes: newVolumes()}
	if err := b.validateAWS(ctx); err != nil {
		return nil, err
	}
	b.registry = &Registry{aws: clients, cfg: cfg}
	if b.deriver, err = newDeriver(b.registry); err != nil {
		return nil, err
	}
	if err := b.registry.ensureRepository(ctx, cfg.ECRRepository); err != nil {
		return nil, err
	}
	if err := b.ensureLogGroups(ctx); err != nil {
		return nil, err
	}
	b.journal = &journal{b: b}
	if b.agents, err = newAgents(b); err != nil {
		return nil, err
	}
	if err := b.recover(ctx); err != nil {
		return nil, fmt.Errorf("rebuild containers from AWS: %w", err)
	}
	b.api = &http.Server{Handler: b.handler(), ReadHeaderTimeout: 30 * time.Second}
	return b, nil
}

// Listen opens both listeners.
func (b *Backend) Listen() error {
	network, addr, err := parseDockerHost(b.cfg.DockerHost)
	if err != nil {
		return err
	}
	if network == "unix" {
		_ = os.Remove(addr)
	}
	if b.apiLn, err = net.Listen(network, addr); err != nil {
		return fmt.Errorf("Docker API listener on %s: %w", b.cfg.DockerHost, err)
	}
	if b.cfg.TLSCert != "" {
		tc, err := b.cfg.serverTLS()
		if err != nil {
			b.apiLn.Close()
			return err
		}
		b.apiLn = tls.NewListener(b.apiLn, tc)
	} else if b.cfg.InsecureTCP && network == "tcp" {
		slog.Warn("the Docker API is served over plain TCP without TLS: anyone who reaches it can run containers with this AWS account", "address", addr)
	}
	if b.callback, err = net.Listen("tcp", b.cfg.CallbackListen); err != nil {
		b.apiLn.Close()
		return fmt.Errorf("callback listener on %s: %w", b.cfg.CallbackListen, err)
	}
	return nil
}

// Serve runs until ctx ends.
func (b *Backend) Serve(ctx context.Context) error {
	go b.agents.serve(b.callback)
	errc := make(chan error, 1)
	go func() { errc <- b.api.Serve(b.apiLn) }()
	slog.Info("sockerless-backend-lambda serving", "docker_host", b.cfg.DockerHost,
		"callback_listen", b.callback.Addr().String(), "callback_url", b.cfg.CallbackURL)
	// Now that agents can reach it: what the restart policies start again.
	b.restartRecovered()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.agents.server.Shutdown(shutdown)
	return b.api.Shutdown(shutdown)
}

// APIAddr is the address of the Docker API listener.
func (b *Backend) APIAddr() net.Addr { return b.apiLn.Addr() }

// CallbackAddr is the address of the callback listener.
func (b *Backend) CallbackAddr() net.Addr { return b.callback.Addr() }

func parseDockerHost(h string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(h, "unix://"):
		return "unix", strings.TrimPrefix(h, "unix://"), nil
	case strings.HasPrefix(h, "tcp://"):
		return "tcp", strings.TrimPrefix(h, "tcp://"), nil
	}
	return "", "", fmt.Errorf("SOCKERLESS_DOCKER_HOST: %q is not tcp://host:port or unix:///path", h)
}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

type ctxKey string

// handler routes the Docker API. Every route answers with and without the
// /v1.NN prefix; versions above ours are served as ours, so clients that do
// not negotiate still work.
func (b *Backend) handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Api-Version", APIVersion)
		h.Set("Ostype", "linux")
		h.Set("Docker-Experimental", "false")
		h.Set("Server", "sockerless-backend-lambda/"+Version+" (linux)")
		c.Next()
	})
	r.HandleMethodNotAllowed = false
	r.NoRoute(func(c *gin.Context) {
		c.Header("Api-Version", APIVersion)
		c.Header("Ostype", "linux")
		writeError(c, notFound("page not found"))
	})

	r.GET("/_ping", b.handlePing)
	r.HEAD("/_ping", b.handlePing)
	r.GET("/version", b.handleVersion)
	r.GET("/info", b.handleInfo)
	r.GET("/system/df", b.handleSystemDF)
	r.POST("/auth", b.handleAuth)
	r.GET("/events", b.handleEvents)
	b.unsupportedRoutes(r)

	r.POST("/containers/create", b.handleContainerCreate)
	r.GET("/containers/json", b.handleContainerList)
	r.GET("/containers/:id/json", b.handleContainerInspect)
	r.POST("/containers/:id/start", b.handleContainerStart)
	r.POST("/containers/:id/wait", b.handleContainerWait)
	r.POST("/containers/:id/attach", b.handleContainerAttach)
	r.POST("/containers/:id/kill", b.handleContainerKill)
	r.POST("/containers/:id/stop", b.handleContainerStop)
	r.GET("/containers/:id/logs", b.handleContainerLogs)
	r.DELETE("/containers/:id", b.handleContainerDelete)
	r.POST("/containers/:id/restart", b.handleContainerRestart)
	r.POST("/containers/:id/rename", b.handleContainerRename)
	r.POST("/containers/:id/update", b.handleContainerUpdate)
	r.POST("/containers/prune", b.handleContainerPrune)
	b.agentRoutes(r)

	r.GET("/networks", b.handleNetworkList)
	r.GET("/networks/:id", b.handleNetworkInspect)
	r.POST("/networks/create", b.handleNetworkCreate)
	r.POST("/networks/prune", b.handleNetworkPrune)
	r.POST("/networks/:id/connect", b.handleNetworkConnect)
	r.POST("/networks/:id/disconnect", b.handleNetworkDisconnect)
	r.DELETE("/networks/:id", b.handleNetworkDelete)

	r.GET("/volumes", b.handleVolumeList)
	r.POST("/volumes/create", b.handleVolumeCreate)
	r.POST("/volumes/prune", b.handleVolumePrune)
	r.GET("/volumes/:name", b.handleVolumeInspect)
	r.DELETE("/volumes/:name", b.handleVolumeDelete)

	r.GET("/images/*name", b.imageGET)
	r.POST("/images/*name", b.imagePOST)
	r.DELETE("/images/*name", b.handleImageDelete)

	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		version := APIVersion
		if m := versionPrefix.FindStringSubmatch(req.URL.Path); m != nil {
			if versionLess(m[1], MinAPIVersion) {
				writeRaw(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", m[1], MinAPIVersion))
				return
			}
			if versionLess(m[1], APIVersion) {
				version = m[1]
			}
			req.URL.Path = m[2]
			req.URL.RawPath = ""
		}
		req = req.WithContext(context.WithValue(req.Context(), ctxKey("api-version"), version))
		r.ServeHTTP(w, req)
	})
}

func writeRaw(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Api-Version", APIVersion)
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"message\":%q}\n", msg)
}

// apiVersionAtLeast reports whether the request's API version is v or newer.
func apiVersionAtLeast(c *gin.Context, v string) bool {
	got, _ := c.Request.Context().Value(ctxKey("api-version")).(string)
	return !versionLess(got, v)
}

// versionLess compares "1.44"-style versions.
func versionLess(a, b string) bool {
	var a1, a2, b1, b2 int
	fmt.Sscanf(a, "%d.%d", &a1, &a2)
	fmt.Sscanf(b, "%d.%d", &b1, &b2)
	return a1 < b1 || a1 == b1 && a2 < b2
}
