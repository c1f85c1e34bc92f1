// Package agentbin embeds the agent binaries that the backend injects into
// every function image. `make build` puts them here before the backend is
// compiled (they are build outputs, not sources).
package agentbin

import (
	"embed"
	"fmt"
)

//go:embed sockerless-agent-linux-*
var files embed.FS

// Binary returns the static agent for a Lambda architecture (x86_64 or arm64).
func Binary(lambdaArch string) ([]byte, error) {
	goarch := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[lambdaArch]
	if goarch == "" {
		return nil, fmt.Errorf("no agent for architecture %q", lambdaArch)
	}
	b, err := files.ReadFile("sockerless-agent-linux-" + goarch)
	if err != nil {
		return nil, fmt.Errorf("agent binary for %s is missing from this build (run make build): %w", goarch, err)
	}
	return b, nil
}
