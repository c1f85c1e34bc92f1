// Command sockerless-simulator-aws runs a local AWS (Lambda, CloudWatch Logs, EFS,
// ECR and STS) that executes Lambda functions on the local Docker engine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator"
)

func main() {
	level := slog.LevelInfo
	if os.Getenv("SIM_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	cfg, err := simulator.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-simulator-aws:", err)
		os.Exit(2)
	}
	srv, err := simulator.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-simulator-aws:", err)
		os.Exit(1)
	}
	srv.Start()
	slog.Info("simulator listening", "url", srv.URL(), "region", cfg.Region, "account", cfg.AccountID)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	slog.Info("simulator stopping: removing execution environments")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Close(shutdown); err != nil {
		slog.Error("shutdown", "err", err)
		os.Exit(1)
	}
}
