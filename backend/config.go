// Package backend is sockerless-backend-lambda: a daemon that serves the Docker
// Engine API and runs every container as an AWS Lambda function built from a
// container image.
package backend

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Config is the backend's configuration, read from the environment. The names
// and defaults are part of the user contract (README's configuration table).
type Config struct {
	Region         string   // AWS_REGION
	RoleARN        string   // SOCKERLESS_LAMBDA_ROLE_ARN
	LogGroup       string   // SOCKERLESS_LAMBDA_LOG_GROUP
	MemorySize     int32    // SOCKERLESS_LAMBDA_MEMORY_SIZE, MB
	Timeout        int32    // SOCKERLESS_LAMBDA_TIMEOUT, seconds
	Architecture   string   // SOCKERLESS_LAMBDA_ARCHITECTURE: x86_64 or arm64
	Subnets        []string // SOCKERLESS_LAMBDA_SUBNETS
	SecurityGroups []string // SOCKERLESS_LAMBDA_SECURITY_GROUPS
	CallbackURL    string   // SOCKERLESS_CALLBACK_URL: what agents dial
	CallbackListen string   // SOCKERLESS_CALLBACK_LISTEN: where the backend accepts them
	EndpointURL    string   // SOCKERLESS_ENDPOINT_URL: a custom AWS endpoint (the simulator)
	DockerHost     string   // SOCKERLESS_DOCKER_HOST: tcp://host:port or unix:///path
	ECRRepository  string   // SOCKERLESS_ECR_REPOSITORY: where derived images are pushed
	ECRPullThrough string   // SOCKERLESS_ECR_PULL_THROUGH_PREFIX: the Docker Hub pull-through cache rule
}

var (
	roleARNRE  = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	subnetRE   = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgRE       = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	logGroupRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	repoRE     = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
)

// ConfigFromEnv reads and validates the configuration. A bad value is an error
// naming the variable and what is allowed.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Region:         getenv("AWS_REGION", "us-east-1"),
		RoleARN:        os.Getenv("SOCKERLESS_LAMBDA_ROLE_ARN"),
		LogGroup:       getenv("SOCKERLESS_LAMBDA_LOG_GROUP", "/sockerless/lambda"),
		Architecture:   getenv("SOCKERLESS_LAMBDA_ARCHITECTURE", "x86_64"),
		Subnets:        splitList(os.Getenv("SOCKERLESS_LAMBDA_SUBNETS")),
		SecurityGroups: splitList(os.Getenv("SOCKERLESS_LAMBDA_SECURITY_GROUPS")),
		CallbackURL:    os.Getenv("SOCKERLESS_CALLBACK_URL"),
		CallbackListen: os.Getenv("SOCKERLESS_CALLBACK_LISTEN"),
		EndpointURL:    os.Getenv("SOCKERLESS_ENDPOINT_URL"),
		DockerHost:     getenv("SOCKERLESS_DOCKER_HOST", "tcp://127.0.0.1:3375"),
		ECRRepository:  getenv("SOCKERLESS_ECR_REPOSITORY", "sockerless"),
		ECRPullThrough: getenv("SOCKERLESS_ECR_PULL_THROUGH_PREFIX", "docker-hub"),
	}
	var err error
	if c.MemorySize, err = intEnv("SOCKERLESS_LAMBDA_MEMORY_SIZE", 1024, 128, 10240, "MB"); err != nil {
		return c, err
	}
	if c.Timeout, err = intEnv("SOCKERLESS_LAMBDA_TIMEOUT", 900, 1, 900, "seconds"); err != nil {
		return c, err
	}
	return c, c.validate()
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
