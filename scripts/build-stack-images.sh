#!/usr/bin/env bash
# Builds the container images of the simulator and the backend, FROM scratch,
# from static binaries: sockerless/simulator-aws:dev, sockerless/backend-lambda:dev.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "build-stack-images: no Docker engine answers (start dockerd, or set DOCKER_HOST)" >&2
  exit 1
fi
version=${VERSION:-dev}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for part in simulator backend; do
  ctx=$work/$part
  mkdir -p "$ctx/tmp"
  chmod 1777 "$ctx/tmp"
  cp "scripts/docker/$part.Dockerfile" "$ctx/Dockerfile"
done
(cd simulator && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$work/simulator/sockerless-simulator-aws" ./cmd/sockerless-simulator-aws)
(cd backend && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$work/backend/sockerless-backend-lambda" ./cmd/sockerless-backend-lambda)
docker build -q -t sockerless/simulator-aws:dev "$work/simulator" >/dev/null
docker build -q -t sockerless/backend-lambda:dev "$work/backend" >/dev/null
echo "build-stack-images: built sockerless/simulator-aws:dev and sockerless/backend-lambda:dev"
