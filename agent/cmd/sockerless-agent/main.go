// Command sockerless-agent is the entrypoint of every Sockerless function
// image: it runs the container's process for each Lambda invocation and
// carries its stdio and exit code back to the backend.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/sockerless-lambda/sockerless/agent/internal/agent"
)

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
