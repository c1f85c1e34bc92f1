// Package backend is sockerless-backend-lambda: a daemon that serves the Docker
// Engine API and runs every container as an AWS Lambda function built from a
// container image.
package backend

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Config is the backend's configuration, read from the environment. The names
// and defaults are part of the user contract (README's configuration table).
type Config struct {
	Region          string   // AWS_REGION
	RoleARN         string   // SOCKERLESS_LAMBDA_ROLE_ARN
	LogGroup        string   // SOCKERLESS_LAMBDA_LOG_GROUP
	JournalLogGroup string   // SOCKERLESS_JOURNAL_LOG_GROUP: the backend's records, apart from the functions' output
	MemorySize      int32    // SOCKERLESS_LAMBDA_MEMORY_SIZE, MB
	Timeout         int32    // SOCKERLESS_LAMBDA_TIMEOUT, seconds
	Architecture    string   // SOCKERLESS_LAMBDA_ARCHITECTURE: x86_64 or arm64
	Subnets         []string // SOCKERLESS_LAMBDA_SUBNETS
	SecurityGroups  []string // SOCKERLESS_LAMBDA_SECURITY_GROUPS
	CallbackURL     string   // SOCKERLESS_CALLBACK_URL: what agents dial
	CallbackListen  string   // SOCKERLESS_CALLBACK_LISTEN: where the backend accepts them
	EndpointURL     string   // SOCKERLESS_ENDPOINT_URL: a custom AWS endpoint (the simulator)
	DockerHost      string   // SOCKERLESS_DOCKER_HOST: tcp://host:port or unix:///path
	ECRRepository   string   // SOCKERLESS_ECR_REPOSITORY: where derived images are pushed
	ECRPullThrough  string   // SOCKERLESS_ECR_PULL_THROUGH_PREFIX: the Docker Hub pull-through cache rule
	EFSAccessPoint  string   // SOCKERLESS_EFS_ACCESS_POINT_ARN: where named volumes live; none means no volumes

	// TLS on the Docker API, as dockerd: --tlsverify, --tlscacert, --tlscert, --tlskey.
	TLSVerify   bool   // SOCKERLESS_TLS_VERIFY: require client certificates signed by TLSCACert
	TLSCACert   string // SOCKERLESS_TLS_CACERT
	TLSCert     string // SOCKERLESS_TLS_CERT
	TLSKey      string // SOCKERLESS_TLS_KEY
	InsecureTCP bool   // SOCKERLESS_INSECURE_TCP: allow plain TCP on an address other than loopback
}

// Load reads the environment, then the dockerd-style flags in args, which
// win: -H/--host, --tlsverify, --tlscacert, --tlscert, --tlskey.
func Load(args []string) (Config, error) {
	fs := flag.NewFlagSet("sockerless-backend-lambda", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host := fs.String("H", "", "Docker API address (tcp://host:port or unix:///path)")
	fs.StringVar(host, "host", "", "Docker API address (tcp://host:port or unix:///path)")
	verify := fs.Bool("tlsverify", false, "require client certificates signed by --tlscacert")
	cacert := fs.String("tlscacert", "", "CA certificate for client certificates")
	cert := fs.String("tlscert", "", "server certificate")
	key := fs.String("tlskey", "", "server key")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("command line: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c, err := configFromEnv()
	if err != nil {
		return c, err
	}
	if set["H"] || set["host"] {
		c.DockerHost = *host
	}
	if set["tlsverify"] {
		c.TLSVerify = *verify
	}
	if set["tlscacert"] {
		c.TLSCACert = *cacert
	}
	if set["tlscert"] {
		c.TLSCert = *cert
	}
	if set["tlskey"] {
		c.TLSKey = *key
	}
	return c, c.validate()
}

// ConfigFromEnv reads and validates the configuration from the environment.
func ConfigFromEnv() (Config, error) {
	c, err := configFromEnv()
	if err != nil {
		return c, err
	}
	return c, c.validate()
}

var (
	roleARNRE  = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	subnetRE   = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgRE       = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	accessPtRE = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:elasticfilesystem:[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d:\d{12}:access-point/fsap-[a-f0-9]{8,40}$`)
	logGroupRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	repoRE     = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
)

// configFromEnv reads the configuration. A bad value is an error naming the
// variable and what is allowed.
func configFromEnv() (Config, error) {
	c := Config{
		Region:          getenv("AWS_REGION", "us-east-1"),
		RoleARN:         os.Getenv("SOCKERLESS_LAMBDA_ROLE_ARN"),
		LogGroup:        getenv("SOCKERLESS_LAMBDA_LOG_GROUP", "/sockerless/lambda"),
		JournalLogGroup: os.Getenv("SOCKERLESS_JOURNAL_LOG_GROUP"),
		Architecture:    getenv("SOCKERLESS_LAMBDA_ARCHITECTURE", "x86_64"),
		Subnets:         splitList(os.Getenv("SOCKERLESS_LAMBDA_SUBNETS")),
		SecurityGroups:  splitList(os.Getenv("SOCKERLESS_LAMBDA_SECURITY_GROUPS")),
		CallbackURL:     os.Getenv("SOCKERLESS_CALLBACK_URL"),
		CallbackListen:  os.Getenv("SOCKERLESS_CALLBACK_LISTEN"),
		EndpointURL:     os.Getenv("SOCKERLESS_ENDPOINT_URL"),
		DockerHost:      getenv("SOCKERLESS_DOCKER_HOST", "tcp://127.0.0.1:3375"),
		ECRRepository:   getenv("SOCKERLESS_ECR_REPOSITORY", "sockerless"),
		ECRPullThrough:  getenv("SOCKERLESS_ECR_PULL_THROUGH_PREFIX", "docker-hub"),
		EFSAccessPoint:  os.Getenv("SOCKERLESS_EFS_ACCESS_POINT_ARN"),
	}
	var err error
	if c.MemorySize, err = intEnv("SOCKERLESS_LAMBDA_MEMORY_SIZE", 1024, 128, 10240, "MB"); err != nil {
		return c, err
	}
	if c.Timeout, err = intEnv("SOCKERLESS_LAMBDA_TIMEOUT", 900, 1, 900, "seconds"); err != nil {
		return c, err
	}
	c.TLSCACert, c.TLSCert, c.TLSKey = os.Getenv("SOCKERLESS_TLS_CACERT"), os.Getenv("SOCKERLESS_TLS_CERT"), os.Getenv("SOCKERLESS_TLS_KEY")
	if c.TLSVerify, err = boolEnv("SOCKERLESS_TLS_VERIFY"); err != nil {
		return c, err
	}
	if c.InsecureTCP, err = boolEnv("SOCKERLESS_INSECURE_TCP"); err != nil {
		return c, err
	}
	return c, nil
}

func boolEnv(k string) (bool, error) {
	v := os.Getenv(k)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not allowed: 1, true, 0 or false", k, v)
	}
	return b, nil
}

func (c *Config) validate() error {
	if !regionRE.MatchString(c.Region) {
		return fmt.Errorf("AWS_REGION: %q is not an AWS region such as us-east-1", c.Region)
	}
	if c.RoleARN == "" {
		return fmt.Errorf("SOCKERLESS_LAMBDA_ROLE_ARN: required: the IAM role ARN the functions run as, such as arn:aws:iam::123456789012:role/sockerless-lambda")
	}
	if !roleARNRE.MatchString(c.RoleARN) {
		return fmt.Errorf("SOCKERLESS_LAMBDA_ROLE_ARN: %q is not an IAM role ARN such as arn:aws:iam::123456789012:role/sockerless-lambda", c.RoleARN)
	}
	if c.Architecture != "x86_64" && c.Architecture != "arm64" {
		return fmt.Errorf("SOCKERLESS_LAMBDA_ARCHITECTURE: %q is not allowed: x86_64 or arm64", c.Architecture)
	}
	if !logGroupRE.MatchString(c.LogGroup) {
		return fmt.Errorf("SOCKERLESS_LAMBDA_LOG_GROUP: %q is not a log group name (1-512 of A-Za-z0-9 . - _ / #)", c.LogGroup)
	}
	if c.JournalLogGroup == "" {
		c.JournalLogGroup = c.LogGroup + "/journal"
	}
	if !logGroupRE.MatchString(c.JournalLogGroup) {
		return fmt.Errorf("SOCKERLESS_JOURNAL_LOG_GROUP: %q is not a log group name (1-512 of A-Za-z0-9 . - _ / #)", c.JournalLogGroup)
	}
	if c.JournalLogGroup == c.LogGroup {
		return fmt.Errorf("SOCKERLESS_JOURNAL_LOG_GROUP: must differ from SOCKERLESS_LAMBDA_LOG_GROUP: the functions may write to their log group, and must not be able to forge the backend's records")
	}
	for _, s := range c.Subnets {
		if !subnetRE.MatchString(s) {
			return fmt.Errorf("SOCKERLESS_LAMBDA_SUBNETS: %q is not a subnet ID such as subnet-0123456789abcdef0", s)
		}
	}
	for _, s := range c.SecurityGroups {
		if !sgRE.MatchString(s) {
			return fmt.Errorf("SOCKERLESS_LAMBDA_SECURITY_GROUPS: %q is not a security group ID such as sg-0123456789abcdef0", s)
		}
	}
	if len(c.SecurityGroups) > 0 && len(c.Subnets) == 0 {
		return fmt.Errorf("SOCKERLESS_LAMBDA_SECURITY_GROUPS: set, but SOCKERLESS_LAMBDA_SUBNETS is empty: VPC mode needs both")
	}
	if c.EFSAccessPoint != "" {
		if !accessPtRE.MatchString(c.EFSAccessPoint) {
			return fmt.Errorf("SOCKERLESS_EFS_ACCESS_POINT_ARN: %q is not an EFS access point ARN such as arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0", c.EFSAccessPoint)
		}
		// Lambda mounts EFS only into functions in a VPC; the simulator (a
		// custom endpoint) has no VPCs and does not ask for one.
		if len(c.Subnets) == 0 && c.EndpointURL == "" {
			return fmt.Errorf("SOCKERLESS_EFS_ACCESS_POINT_ARN: set, but SOCKERLESS_LAMBDA_SUBNETS is empty: Lambda mounts EFS only into functions in a VPC with a mount target in reach")
		}
	}
	if c.CallbackURL == "" {
		return fmt.Errorf("SOCKERLESS_CALLBACK_URL: required: the ws:// or wss:// URL at which functions reach this backend")
	}
	u, err := url.Parse(c.CallbackURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("SOCKERLESS_CALLBACK_URL: %q is not a ws:// or wss:// URL", c.CallbackURL)
	}
	if c.CallbackListen == "" {
		// Functions never run on this host's loopback, so by default the
		// callback listener takes every interface, on the URL's port.
		port := u.Port()
		if port == "" {
			port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
		}
		c.CallbackListen = ":" + port
	}
	if c.EndpointURL != "" {
		if u, err := url.Parse(c.EndpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("SOCKERLESS_ENDPOINT_URL: %q is not an http:// or https:// URL", c.EndpointURL)
		}
	}
	if !strings.HasPrefix(c.DockerHost, "tcp://") && !strings.HasPrefix(c.DockerHost, "unix://") {
		return fmt.Errorf("SOCKERLESS_DOCKER_HOST: %q is not tcp://host:port or unix:///path", c.DockerHost)
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if !repoRE.MatchString(c.ECRRepository) {
		return fmt.Errorf("SOCKERLESS_ECR_REPOSITORY: %q is not an ECR repository name", c.ECRRepository)
	}
	if !repoRE.MatchString(c.ECRPullThrough) {
		return fmt.Errorf("SOCKERLESS_ECR_PULL_THROUGH_PREFIX: %q is not an ECR repository prefix", c.ECRPullThrough)
	}
	return nil
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func intEnv(k string, def, min, max int, unit string) (int32, error) {
	v := os.Getenv(k)
	if v == "" {
		return int32(def), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s: %q is not allowed: a whole number of %s from %d to %d", k, v, unit, min, max)
	}
	return int32(n), nil
}

// validateTLS checks the TLS settings, and that plain TCP is on loopback
// unless explicitly allowed: the Docker API gives whoever reaches it the run
// of the AWS account's Lambda.
func (c *Config) validateTLS() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("SOCKERLESS_TLS_CERT and SOCKERLESS_TLS_KEY (--tlscert, --tlskey): give both or neither")
	}
	if c.TLSVerify && (c.TLSCert == "" || c.TLSCACert == "") {
		return fmt.Errorf("SOCKERLESS_TLS_VERIFY (--tlsverify): needs --tlscacert, --tlscert and --tlskey")
	}
	for name, path := range map[string]string{"SOCKERLESS_TLS_CACERT": c.TLSCACert, "SOCKERLESS_TLS_CERT": c.TLSCert, "SOCKERLESS_TLS_KEY": c.TLSKey} {
		if path != "" {
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		}
	}
	if !strings.HasPrefix(c.DockerHost, "tcp://") || c.TLSCert != "" || c.InsecureTCP {
		return nil
	}
	host, _, err := net.SplitHostPort(strings.TrimPrefix(c.DockerHost, "tcp://"))
	if err != nil {
		return fmt.Errorf("SOCKERLESS_DOCKER_HOST: %q is not tcp://host:port", c.DockerHost)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("SOCKERLESS_DOCKER_HOST: plain TCP on %s would let anyone who reaches it run containers with this AWS account: use TLS (--tlsverify, --tlscacert, --tlscert, --tlskey), a loopback address, or set SOCKERLESS_INSECURE_TCP=1 to allow it", host)
	}
	return nil
}

// serverTLS is the Docker API's TLS configuration, verifying client
// certificates against the CA with TLSVerify, as dockerd does.
func (c *Config) serverTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("SOCKERLESS_TLS_CERT/SOCKERLESS_TLS_KEY: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSCACert != "" {
		pem, err := os.ReadFile(c.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("SOCKERLESS_TLS_CACERT: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("SOCKERLESS_TLS_CACERT: %s holds no PEM certificate", c.TLSCACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if c.TLSVerify {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return tc, nil
}
