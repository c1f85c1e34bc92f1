#!/usr/bin/env bash
# Prints the IPv4 address of the Docker engine's default bridge on this host:
# where containers on the bridge reach the host (host-gateway).
set -euo pipefail
gw=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
if [ -z "$gw" ]; then
  ifname=$(docker network inspect bridge --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null || echo docker0)
  gw=$(ip -4 -o addr show "${ifname:-docker0}" 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
fi
if [ -z "$gw" ]; then
  echo "bridge-gateway: cannot find the Docker bridge's address" >&2
  exit 1
fi
echo "$gw"
