# sockerless-backend-lambda: Docker on AWS Lambda.
# `make help` lists the targets.

SHELL := /bin/bash
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := $(CURDIR)/bin
GO ?= go
GOFLAGS_STATIC := CGO_ENABLED=0 GOOS=linux
LDFLAGS := -s -w -X main.version=$(VERSION)
GO_MODULES := agent backend simulator e2e

.PHONY: help build agent run test sim-test-aws docker-test aws-test bench lint clean test-images

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

agent: ## Build the static agent for linux/amd64 and linux/arm64 (embedded by the backend)
	@mkdir -p backend/agentbin
	cd agent && $(GOFLAGS_STATIC) GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o ../backend/agentbin/sockerless-agent-linux-amd64 ./cmd/sockerless-agent
	cd agent && $(GOFLAGS_STATIC) GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o ../backend/agentbin/sockerless-agent-linux-arm64 ./cmd/sockerless-agent

build: agent ## Build the backend, the simulator and the agent into bin/
	@mkdir -p $(BIN)
	cd backend && $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sockerless-backend-lambda ./cmd/sockerless-backend-lambda
	cd simulator && $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sockerless-simulator-aws ./cmd/sockerless-simulator-aws
	@cp backend/agentbin/sockerless-agent-linux-amd64 $(BIN)/

test-images: ## Build the local test images (busybox:latest, FROM scratch)
	scripts/build-test-images.sh

run: build test-images ## Start the simulator and the backend (no AWS account needed); Ctrl-C stops both
	scripts/run.sh

test: build test-images ## Unit, simulator integration and end-to-end tests, all on this machine
	cd agent && $(GO) test -count=1 ./...
	@# -p 1: the simulator's packages drive the one Docker engine; run one at a time, not against each other.
	cd simulator && $(GO) test -count=1 -p 1 -timeout 20m ./...
	cd backend && $(GO) test -count=1 -timeout 20m ./...
	@# One package, run in its directory, so that Ginkgo's count of the specs that ran is shown.
	cd e2e && $(GO) test -count=1 -timeout 20m -ginkgo.no-color
	@# Real AWS when configured; otherwise one line says why and every spec is reported skipped.
	$(MAKE) --no-print-directory aws-test

sim-test-aws: build test-images ## End-to-end suites against the simulator and backend as local processes
	@# The suite starts bin/sockerless-simulator-aws and bin/sockerless-backend-lambda itself and stops them at the end.
	cd e2e && $(GO) test -count=1 -timeout 20m -ginkgo.no-color

docker-test: build test-images ## End-to-end suites with the simulator and backend as containers (FROM scratch) on the local engine
	scripts/build-stack-images.sh
	cd e2e && SOCKERLESS_E2E_STACK=docker $(GO) test -count=1 -timeout 20m -ginkgo.no-color

aws-test: build ## End-to-end suites against real AWS (credentials and the variables of examples/terraform); skipped with one line without them
	cd e2e && SOCKERLESS_E2E_STACK=aws $(GO) test -count=1 -timeout 60m -ginkgo.no-color

bench: build test-images ## Benchmarks of every module; results go in docs/benchmarks.md
	@for m in $(GO_MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...) || exit 1; done

lint: agent ## gofmt and go vet over every module
	@out=$$(gofmt -l $(GO_MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(GO_MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

clean: ## Remove build outputs
	rm -rf $(BIN) backend/agentbin/sockerless-agent-linux-*
