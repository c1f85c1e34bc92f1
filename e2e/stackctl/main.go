// Command stackctl starts one container of the end-to-end stack (the
// simulator or the backend) on the local Docker engine with testcontainers-go
// and prints its ID; `make docker-test` follows, signals and removes it with
// the Docker SDK. It is a process of its own because testcontainers-go keeps
// one Docker host per process, and the suite's own testcontainers specs must
// talk to the backend, not to the engine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	image := flag.String("image", "", "the image to run")
	var env, binds list
	flag.Var(&env, "env", "KEY=VALUE (repeatable)")
	flag.Var(&binds, "bind", "host:container (repeatable)")
	flag.Parse()
	if *image == "" {
		fmt.Fprintln(os.Stderr, "stackctl: -image is required")
		os.Exit(2)
	}
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	c, err := testcontainers.GenericContainer(context.Background(), testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:  *image,
			Env:    envMap,
			Labels: map[string]string{"sockerless-e2e": "stack"},
			// The host's network and PID namespace, as the suite's comment in
			// stack_docker_test.go explains.
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = "host"
				hc.PidMode = "host"
				hc.Binds = binds
			},
		},
		Started: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackctl:", err)
		os.Exit(1)
	}
	fmt.Println(c.GetContainerID())
}
