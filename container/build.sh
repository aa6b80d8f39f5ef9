#!/usr/bin/env bash
# Build the harness training/serving image on this offline machine.
#   container/build.sh [TAG]        -> harness-train:TAG (default: latest)
#   PREPARE_ONLY=1 container/build.sh  -> the context prepared, the base image's name printed
#                                         last (container/tests.Dockerfile builds on it too)
# Steps: pick the base image (below), put the local wheel of the torch build
# (TORCH_BUILD: cpu, or a CUDA build such as cu128) that container/requirements.txt
# pins into container/wheelhouse/ (else pip takes it from TORCH_INDEX, PyTorch's
# index of that build), put the host CA bundle into
# container/certs/ (pip in the build only reaches PyPI when it trusts it), then
# build container/Dockerfile with the legacy builder from the repository root.
# Env: BASE_IMAGE (default python:3.11-slim where a registry answers, else
#      harness-base:bookworm from debootstrap; an HF DLC or a CUDA base works too),
#      WHEEL_DIR (default /opt/wheels), HOST_CA_BUNDLE, TORCH_BUILD (default cpu),
#      TORCH_INDEX (default https://download.pytorch.org/whl/$TORCH_BUILD).
# A CUDA build needs no CUDA base image: its wheels bring the CUDA runtime (nvidia-*),
# and the NVIDIA container runtime brings the host's driver when the container starts.
set -euo pipefail

TAG=${1:-latest}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

WHEEL_DIR=${WHEEL_DIR:-/opt/wheels}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
IMAGE=harness-train:$TAG

start=$(date +%s)

# A public Python image where a registry answers; otherwise a Debian base built offline.
if [ -z "${BASE_IMAGE:-}" ]; then
    if docker image inspect python:3.11-slim >/dev/null 2>&1 \
            || docker pull python:3.11-slim >/dev/null 2>&1; then
        BASE_IMAGE=python:3.11-slim
    else
        echo "build: no registry reachable; building the base image with debootstrap"
        container/base-image.sh harness-base:bookworm bookworm
        BASE_IMAGE=harness-base:bookworm
    fi
fi

mkdir -p container/wheelhouse container/certs
TORCH=$(sed -n 's/^torch==//p' container/requirements.txt)
TORCH=${TORCH%%+*}  # 2.13.0+cu128 -> 2.13.0
TORCH_BUILD=${TORCH_BUILD:-cpu}
INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/$TORCH_BUILD}
TORCH_INDEX=
shopt -s nullglob
wheels=("$WHEEL_DIR"/torch-"$TORCH"+"$TORCH_BUILD"-cp311-*.whl)
shopt -u nullglob
if [ "${#wheels[@]}" -gt 0 ]; then
    for w in "${wheels[@]}"; do
        dest="container/wheelhouse/$(basename "$w")"
        # Same size => same wheel; skip the 190 MB copy.
        if [ ! -f "$dest" ] || [ "$(stat -c %s "$w")" != "$(stat -c %s "$dest")" ]; then
            cp "$w" "$dest"
        fi
    done
    echo "build: torch $TORCH+$TORCH_BUILD wheel from $WHEEL_DIR -> container/wheelhouse/"
else
    # Its +cpu (+cu128) build sorts above PyPI's unlabelled build of the same release.
    TORCH_INDEX=$INDEX
    echo "build: no torch $TORCH+$TORCH_BUILD cp311 wheel in $WHEEL_DIR; pip will download" \
         "it from $TORCH_INDEX" >&2
fi

if [ -f "$HOST_CA_BUNDLE" ]; then
    cmp -s "$HOST_CA_BUNDLE" container/certs/host-ca-bundle.crt \
        || cp "$HOST_CA_BUNDLE" container/certs/host-ca-bundle.crt
fi

if [ "${PREPARE_ONLY:-}" = 1 ]; then
    echo "$BASE_IMAGE"
    exit 0
fi

echo "build: docker build $IMAGE (base $BASE_IMAGE)"
DOCKER_BUILDKIT=0 docker build \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg TORCH_INDEX="$TORCH_INDEX" \
    -t "$IMAGE" -f container/Dockerfile .

size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1/1e9}')
echo "build: $IMAGE ready in $(( $(date +%s) - start )) s, $size"
