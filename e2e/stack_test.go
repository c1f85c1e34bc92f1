package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// stack is the system under test: a backend's Docker API, and the AWS
// endpoint it uses. By default the suite starts the simulator and the backend
// from bin/ as local processes; SOCKERLESS_E2E_DOCKER_HOST and
// SOCKERLESS_E2E_AWS_ENDPOINT point it at a running stack instead.
type stack struct {
	DockerHost   string // tcp://127.0.0.1:port
	AWSEndpoint  string // http://127.0.0.1:port, "" for real AWS
	Region       string
	procs        []*proc
	backendEnv   []string // to start the backend again the same way
	inContainers bool     // SOCKERLESS_E2E_STACK=docker: the stack runs as containers
	onAWS        bool     // SOCKERLESS_E2E_STACK=aws: the backend runs against real AWS
	efsDir       string   // the simulator's EFS file systems: a host path, shared with a simulator container
}

func repoRoot() string {
	dir, _ := os.Getwd()
	return filepath.Dir(dir)
}

func freePort(host string) (string, error) {
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

func bridgeGateway() (string, error) {
	out, err := exec.Command(filepath.Join(repoRoot(), "scripts", "bridge-gateway.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("find the Docker bridge address: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func startStack() (*stack, error) {
	if os.Getenv("SOCKERLESS_E2E_STACK") == "aws" {
		return startAWSStack()
	}
	if h := os.Getenv("SOCKERLESS_E2E_DOCKER_HOST"); h != "" {
		return &stack{DockerHost: h, AWSEndpoint: os.Getenv("SOCKERLESS_E2E_AWS_ENDPOINT"), Region: envOr("AWS_REGION", "us-east-1")}, nil
	}
	bin := filepath.Join(repoRoot(), "bin")
	for _, b := range []string{"sockerless-simulator-aws", "sockerless-backend-lambda"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%s is not built: run make build first (%w)", b, err)
		}
	}
	gw, err := bridgeGateway()
	if err != nil {
		return nil, err
	}
	simPort, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	cbPort, err := freePort(gw)
	if err != nil {
		return nil, err
	}
	s := &stack{
		DockerHost:  "tcp://127.0.0.1:" + apiPort,
		AWSEndpoint: "http://127.0.0.1:" + simPort,
		Region:      "us-east-1",
	}
	s.inContainers = os.Getenv("SOCKERLESS_E2E_STACK") == "docker"
	if s.efsDir, err = os.MkdirTemp("", "sockerless-e2e-efs-"); err != nil {
		return nil, err
	}
	simEnv := []string{"SIM_ADDR=127.0.0.1:" + simPort, "SIM_LAMBDA_IDLE_TIMEOUT=2m", "SIM_EFS_DIR=" + s.efsDir}
	if s.inContainers {
		_, err = s.spawnContainer(simulatorImage, true, simEnv...)
	} else {
		_, err = s.spawn(filepath.Join(bin, "sockerless-simulator-aws"), simEnv...)
	}
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(s.AWSEndpoint+"/2015-03-31/functions/", 20*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("simulator did not come up: %w\n%s", err, s.output())
	}
	accessPoint, err := createAccessPoint(s.AWSEndpoint, s.Region)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.backendEnv = []string{
		"SOCKERLESS_EFS_ACCESS_POINT_ARN=" + accessPoint,
		"AWS_REGION=us-east-1",
		"SOCKERLESS_ENDPOINT_URL=" + s.AWSEndpoint,
		"SOCKERLESS_LAMBDA_ROLE_ARN=arn:aws:iam::123456789012:role/sockerless-e2e",
		"SOCKERLESS_CALLBACK_URL=ws://" + gw + ":" + cbPort,
		"SOCKERLESS_CALLBACK_LISTEN=" + gw + ":" + cbPort,
		"SOCKERLESS_DOCKER_HOST=" + s.DockerHost,
		"SOCKERLESS_CALLBACK_SECRET=e2e-" + cbPort,
	}
	if err := s.startBackend(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *stack) startBackend() error {
	var p *proc
	var err error
	if s.inContainers {
		p, err = s.spawnContainer(backendImage, false, s.backendEnv...)
	} else {
		p, err = s.spawn(filepath.Join(repoRoot(), "bin", "sockerless-backend-lambda"), s.backendEnv...)
	}
	if err != nil {
		return err
	}
	p.backend = true
	if err := waitHTTP("http://"+strings.TrimPrefix(s.DockerHost, "tcp://")+"/_ping", 30*time.Second); err != nil {
		return fmt.Errorf("backend did not come up: %w\n%s", err, s.output())
	}
	// The port was free when chosen; make sure it is this backend that
	// answered, not a process that took the port meanwhile.
	select {
	case <-p.exited:
		return fmt.Errorf("backend exited after start (its port was taken?)\n%s", s.output())
	case <-time.After(300 * time.Millisecond):
	}
	return nil
}

// killBackend ends the backend with SIGKILL, as a crash would, and starts it
// again from nothing: same configuration, no state but what AWS holds.
func (s *stack) restartBackendAfterKill() error {
	if len(s.backendEnv) == 0 {
		return fmt.Errorf("the suite runs against an external backend (SOCKERLESS_E2E_DOCKER_HOST): it cannot restart it")
	}
	for _, p := range s.procs {
		if p.backend && !p.ended() {
			p.signal("SIGKILL")
			<-p.exited
			_, _ = p.out.Write([]byte("--- killed with SIGKILL ---\n"))
		}
	}
	return s.startBackend()
}

// proc is one process of the stack.
type proc struct {
	name    string // the binary or image
	backend bool
	out     *safeBuffer
	signal  func(sig string) // "SIGINT", "SIGKILL"
	exited  chan struct{}    // closed when the process has ended
}

func (p *proc) ended() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (s *stack) spawn(path string, env ...string) (*proc, error) {
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: filepath.Base(path), out: &safeBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p.signal = func(sig string) {
		if sig == "SIGKILL" {
			_ = cmd.Process.Kill()
		} else {
			_ = cmd.Process.Signal(os.Interrupt)
		}
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	s.procs = append(s.procs, p)
	return p, nil
}

// stop ends the processes in reverse order (the backend before the simulator).
func (s *stack) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		if p.ended() {
			continue
		}
		p.signal("SIGINT")
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			p.signal("SIGKILL")
			<-p.exited
		}
	}
	if s.efsDir != "" {
		_ = os.RemoveAll(s.efsDir)
	}
}

// output is what the processes logged, for failure messages.
func (s *stack) output() string {
	var b strings.Builder
	for i, p := range s.procs {
		fmt.Fprintf(&b, "--- process %d (%s) ---\n%s\n", i, p.name, p.out.String())
	}
	return b.String()
}

func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
