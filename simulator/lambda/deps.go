package lambda

import (
	"context"

	"github.com/sockerless-lambda/sockerless/simulator/efs"
)

// LogEvent is one CloudWatch Logs event.
type LogEvent struct {
	Timestamp int64 // Unix milliseconds
	Message   string
}

// Logs is what Lambda needs of CloudWatch Logs: a place for each execution
// environment's output. The cloudwatchlogs package implements it.
type Logs interface {
	// EnsureLogGroup creates the group unless it exists.
	EnsureLogGroup(group string) error
	// EnsureLogStream creates the stream (and its group) unless it exists.
	EnsureLogStream(group, stream string) error
	// Append stores events in the stream, in the order given.
	Append(group, stream string, events []LogEvent) error
}

// Images is what Lambda needs of ECR. The ecr package implements it.
type Images interface {
	// Resolve checks that imageURI (an ECR URI by tag or digest, in the
	// simulator's account and region or naming the simulator's registry
	// host) exists, and returns the reference the local Docker engine pulls
	// it by: "<registry host>/<repository>@sha256:<digest>".
	Resolve(ctx context.Context, imageURI string) (pullRef string, digest string, err error)
	// EngineAuth is the base64url-encoded X-Registry-Auth the Docker engine
	// sends to pull from the simulator's registry.
	EngineAuth() string
}

// FileSystems is what Lambda needs of EFS: the access points that functions
// mount through FileSystemConfigs. The efs package implements it.
type FileSystems interface {
	// AccessPointExists reports whether arn names an existing access point.
	AccessPointExists(arn string) bool
	// Mount readies the access point for an execution environment (its
	// root directory is created on first use) and says what to bind-mount.
	// It fails when the access point is gone.
	Mount(arn string) (efs.Mount, error)
}
