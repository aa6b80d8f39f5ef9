#!/usr/bin/env bash
# Build localstack/localstack:4.14.0 offline (PyPI + Debian archive only).
#   container/localstack/build.sh [--force]
# Skips when the image exists, unless --force.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        *) echo "usage: $0 [--force]" >&2; exit 2 ;;
    esac
done

if [ "$force" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "localstack: $IMAGE already exists, skipping (use --force to rebuild)"
    exit 0
fi

start=$(date +%s)
"$ROOT/container/base-image.sh" harness-base:trixie trixie

mkdir -p "$HERE/certs"
if [ -f "$HOST_CA_BUNDLE" ]; then
    cmp -s "$HOST_CA_BUNDLE" "$HERE/certs/host-ca-bundle.crt" \
        || cp "$HOST_CA_BUNDLE" "$HERE/certs/host-ca-bundle.crt"
fi

DOCKER_BUILDKIT=0 docker build --build-arg BASE_IMAGE=harness-base:trixie \
    -t "$IMAGE" "$HERE"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')
echo "localstack: $IMAGE ready in $(( $(date +%s) - start )) s, $size"
