// Package simulator is a local AWS: Lambda, CloudWatch Logs, ECR (API and an
// OCI registry), EFS and STS, on one HTTP listener, speaking AWS's wire protocols so
// that the unmodified aws-sdk-go-v2 and the AWS CLI work against it.
package simulator

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Config is the simulator's configuration, read from the environment.
type Config struct {
	Addr      string // SIM_ADDR: listen address of every service, default 127.0.0.1:4566
	Region    string // SIM_REGION (or AWS_REGION): default us-east-1
	AccountID string // SIM_ACCOUNT_ID: the account in every ARN, default 123456789012
	DataDir   string // SIM_DATA_DIR: keep state here across restarts; empty means a temporary directory removed at exit
	// EFSDir holds the EFS file systems' contents (SIM_EFS_DIR), which the
	// Docker engine bind-mounts into functions: an absolute path, the same on
	// the engine's host. Empty: <data directory>/efs.
	EFSDir string

	// PendingDelay is how long a new function stays Pending (SIM_LAMBDA_PENDING_DELAY, default 200ms).
	PendingDelay time.Duration
	// IdleTimeout is how long an idle execution environment is kept warm (SIM_LAMBDA_IDLE_TIMEOUT, default 5m).
	IdleTimeout time.Duration
	// AccountConcurrency is Lambda's account concurrency limit (SIM_LAMBDA_ACCOUNT_CONCURRENCY, default 1000).
	AccountConcurrency int
	// RuntimeAPIHost is the address the Runtime API listens on, reachable from
	// function containers (SIM_LAMBDA_RUNTIME_API_HOST; default: the Docker bridge gateway).
	RuntimeAPIHost string
	// RegistryUpstream enables fetching Docker Hub images from the internet for
	// pull-through cache rules (SIM_REGISTRY_UPSTREAM=1). Off by default: images
	// come from the local Docker engine.
	RegistryUpstream bool
}

var accountRE = regexp.MustCompile(`^\d{12}$`)

// ConfigFromEnv reads the configuration and validates it.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Addr:               getenv("SIM_ADDR", "127.0.0.1:4566"),
		Region:             getenv("SIM_REGION", getenv("AWS_REGION", "us-east-1")),
		AccountID:          getenv("SIM_ACCOUNT_ID", "123456789012"),
		DataDir:            os.Getenv("SIM_DATA_DIR"),
		EFSDir:             os.Getenv("SIM_EFS_DIR"),
		RuntimeAPIHost:     os.Getenv("SIM_LAMBDA_RUNTIME_API_HOST"),
		AccountConcurrency: 1000,
		PendingDelay:       200 * time.Millisecond,
		IdleTimeout:        5 * time.Minute,
	}
	if c.EFSDir != "" && !filepath.IsAbs(c.EFSDir) {
		return c, fmt.Errorf("SIM_EFS_DIR: %q is not an absolute path (the Docker engine bind-mounts it)", c.EFSDir)
	}
	if !accountRE.MatchString(c.AccountID) {
		return c, fmt.Errorf("SIM_ACCOUNT_ID: %q is not a 12-digit AWS account id", c.AccountID)
	}
	var err error
	if c.PendingDelay, err = durationEnv("SIM_LAMBDA_PENDING_DELAY", c.PendingDelay); err != nil {
		return c, err
	}
	if c.IdleTimeout, err = durationEnv("SIM_LAMBDA_IDLE_TIMEOUT", c.IdleTimeout); err != nil {
		return c, err
	}
	if v := os.Getenv("SIM_LAMBDA_ACCOUNT_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("SIM_LAMBDA_ACCOUNT_CONCURRENCY: %q is not a positive integer", v)
		}
		c.AccountConcurrency = n
	}
	if c.RuntimeAPIHost != "" && net.ParseIP(c.RuntimeAPIHost) == nil {
		return c, fmt.Errorf("SIM_LAMBDA_RUNTIME_API_HOST: %q is not an IP address", c.RuntimeAPIHost)
	}
	if v := os.Getenv("SIM_REGISTRY_UPSTREAM"); v != "" {
		if c.RegistryUpstream, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("SIM_REGISTRY_UPSTREAM: %q is not a boolean", v)
		}
	}
	return c, nil
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func durationEnv(k string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(k)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 200ms or 5m", k, v)
	}
	return d, nil
}
