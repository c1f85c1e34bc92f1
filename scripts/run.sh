#!/usr/bin/env bash
# `make run`: the simulator and the backend as local processes, with no AWS
# account. Ctrl-C stops both; the simulator removes every function and
# execution environment it ran.
set -euo pipefail
cd "$(dirname "$0")/.."

sim_addr=${SIM_ADDR:-127.0.0.1:4566}
docker_host=${SOCKERLESS_DOCKER_HOST:-tcp://127.0.0.1:3375}
callback_port=${SOCKERLESS_CALLBACK_PORT:-3376}

if ! docker info >/dev/null 2>&1; then
  echo "make run: no Docker engine answers (the simulator runs functions on it)" >&2
  exit 1
fi

# Function containers reach this host through the engine's bridge gateway.
gateway=$(scripts/bridge-gateway.sh)

bin=$PWD/bin
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
  exit 0
}
trap cleanup INT TERM EXIT

SIM_ADDR=$sim_addr "$bin/sockerless-simulator-aws" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -X POST -H 'X-Amz-Target: Logs_20140328.DescribeLogGroups' \
    -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "http://$sim_addr/" 2>/dev/null && break
  sleep 0.1
done

# Named volumes live on an EFS access point: make one on the simulator (the
# same calls the Terraform example makes on AWS), unless one is given.
access_point=${SOCKERLESS_EFS_ACCESS_POINT_ARN:-}
if [ -z "$access_point" ]; then
  fs_id=$(curl -fsS -X POST -H 'Content-Type: application/json' -d '{"CreationToken":"sockerless-make-run"}' \
    "http://$sim_addr/2015-02-01/file-systems" | sed -n 's/.*"FileSystemId":"\([^"]*\)".*/\1/p')
  access_point=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"ClientToken":"sockerless-make-run","FileSystemId":"'"$fs_id"'","RootDirectory":{"Path":"/sockerless-volumes","CreationInfo":{"OwnerUid":993,"OwnerGid":990,"Permissions":"0755"}}}' \
    "http://$sim_addr/2015-02-01/access-points" | sed -n 's/.*"AccessPointArn":"\([^"]*\)".*/\1/p')
  if [ -z "$access_point" ]; then
    echo "make run: could not make an EFS access point on the simulator; named volumes will be refused" >&2
  fi
fi

AWS_REGION=${AWS_REGION:-us-east-1} \
SOCKERLESS_EFS_ACCESS_POINT_ARN=$access_point \
SOCKERLESS_ENDPOINT_URL=http://$sim_addr \
SOCKERLESS_LAMBDA_ROLE_ARN=${SOCKERLESS_LAMBDA_ROLE_ARN:-arn:aws:iam::123456789012:role/sockerless-lambda} \
SOCKERLESS_CALLBACK_URL=${SOCKERLESS_CALLBACK_URL:-ws://$gateway:$callback_port} \
SOCKERLESS_CALLBACK_LISTEN=${SOCKERLESS_CALLBACK_LISTEN:-$gateway:$callback_port} \
SOCKERLESS_DOCKER_HOST=$docker_host \
  "$bin/sockerless-backend-lambda" &
pids+=($!)

cat <<MSG

sockerless is running on the simulator. In another shell:

  export DOCKER_HOST=$docker_host
  export AWS_ENDPOINT_URL=http://$sim_addr

  docker run --rm busybox echo hello

Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
