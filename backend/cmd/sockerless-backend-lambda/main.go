// Command sockerless-backend-lambda serves the Docker Engine API and runs every
// container as an AWS Lambda function.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	// The backend's image is FROM scratch: with no system CA bundle, AWS
	// endpoints are checked against Mozilla's roots.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/sockerless-lambda/sockerless/backend"
)

var version = "dev"

func main() {
	level := slog.LevelInfo
	if os.Getenv("SOCKERLESS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	backend.Version = version

	cfg, err := backend.Load(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-backend-lambda:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := backend.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-backend-lambda:", err)
		os.Exit(1)
	}
	if err := b.Listen(); err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-backend-lambda:", err)
		os.Exit(1)
	}
	if err := b.Serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-backend-lambda:", err)
		os.Exit(1)
	}
}
