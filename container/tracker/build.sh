#!/usr/bin/env bash
# Build harness-tracker:<mlflow version> offline (PyPI + Debian archive only).
#   container/tracker/build.sh [--force]
# Skips when the image exists, unless --force.
# Env: TRACKER_IMAGE (the tag), MLFLOW_VERSION, PIP_INDEX_URL (a PyPI mirror), HOST_CA_BUNDLE.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MLFLOW_VERSION=${MLFLOW_VERSION:-3.17.2}
IMAGE=${TRACKER_IMAGE:-harness-tracker:$MLFLOW_VERSION}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        *) echo "usage: $0 [--force]" >&2; exit 2 ;;
    esac
done

if [ "$force" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "tracker: $IMAGE already exists, skipping (use --force to rebuild)"
    exit 0
fi

start=$(date +%s)
"$ROOT/container/base-image.sh" harness-base:bookworm bookworm

mkdir -p "$HERE/certs"
if [ -f "$HOST_CA_BUNDLE" ]; then
    cmp -s "$HOST_CA_BUNDLE" "$HERE/certs/host-ca-bundle.crt" \
        || cp "$HOST_CA_BUNDLE" "$HERE/certs/host-ca-bundle.crt"
fi

# --force-rm: a failed step leaves no container behind.
DOCKER_BUILDKIT=0 docker build --force-rm --build-arg BASE_IMAGE=harness-base:bookworm \
    --build-arg MLFLOW_VERSION="$MLFLOW_VERSION" \
    ${PIP_INDEX_URL:+--build-arg PIP_INDEX_URL="$PIP_INDEX_URL"} -t "$IMAGE" "$HERE"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')
echo "tracker: $IMAGE ready in $(( $(date +%s) - start )) s, $size"
