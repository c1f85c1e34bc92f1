// Command sockerless-agent is the entrypoint of every Sockerless function
// image: it runs the container's process for each Lambda invocation and
// carries its stdio and exit code back to the backend.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"

	// Images such as busybox, distroless or scratch have no CA bundle: with
	// no system roots, a wss:// callback is checked against Mozilla's.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/sockerless-lambda/sockerless/agent/internal/agent"
)

// credentialVars are the execution role's credentials that Lambda puts in the
// environment. The agent needs none of them, and the container's processes,
// which run as the same user, could read them from /proc/<agent>/environ.
var credentialVars = []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"}

// dropCredentials runs the agent again without the role's credentials in its
// environment; execve replaces what /proc/<pid>/environ shows.
func dropCredentials() {
	var keep []string
	dropped := false
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, c := range credentialVars {
			drop = drop || k == c
		}
		if drop {
			dropped = true
			continue
		}
		keep = append(keep, kv)
	}
	if !dropped {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, keep)
	}
	fmt.Fprintf(os.Stderr, "sockerless-agent: could not drop the role's credentials from the environment: %v\n", err)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}

	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fmt.Fprintln(os.Stderr, "sockerless-agent: AWS_LAMBDA_RUNTIME_API is not set; this program runs as a Lambda function's entrypoint")
		os.Exit(2)
	}
	dropCredentials()
	a := agent.New(agent.Config{
		AgentVersion: version,
		Runtime:      agent.NewRuntimeClient(api),
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
		LogGroup:     os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME"),
		LogStream:    os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"),
		CleanDirs:    []string{"/tmp"},
	})
	fmt.Fprintf(os.Stderr, "sockerless-agent: %s starting (pid %d)\n", version, os.Getpid())
	if err := a.Run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "sockerless-agent: %v\n", err)
		os.Exit(1)
	}
}
