#!/usr/bin/env bash
# Build a minimal Debian base image offline (no registry needed).
#   container/base-image.sh NAME:TAG SUITE
# e.g. harness-base:bookworm bookworm  (Python 3.11, training/serving image)
#      harness-base:trixie   trixie    (Python 3.13, LocalStack image)
# Uses debootstrap against the Debian archive, then `docker import`.
# Does nothing if the image already exists.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 NAME:TAG SUITE" >&2
    exit 2
fi
IMAGE=$1
SUITE=$2
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base-image: $IMAGE already exists, skipping"
    exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
    echo "base-image: debootstrap missing (run scripts/install-docker.sh)" >&2; exit 1; }

start=$(date +%s)
DIR=$(mktemp -d /tmp/harness-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$DIR"; }
trap cleanup EXIT

echo "base-image: debootstrap $SUITE into $DIR"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$DIR" "$MIRROR" >"$DIR.log" 2>&1 || {
    echo "base-image: debootstrap failed; last log lines:" >&2
    tail -n 30 "$DIR.log" >&2
    rm -f "$DIR.log"
    exit 1
}
rm -f "$DIR.log"

# Slim down and make apt usable non-interactively in derived images.
rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* \
       "$DIR"/usr/share/doc/* "$DIR"/usr/share/man/*
# debootstrap writes a one-line sources.list for the main suite only; add
# updates and security so `apt-get install` in a Dockerfile gets fixed packages.
case "$SUITE" in
    sid|unstable) ;;
    *)
        cat >"$DIR/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SRC
        ;;
esac

echo "base-image: importing as $IMAGE"
tar -C "$DIR" -c . | docker import \
    -c 'ENV LANG=C.UTF-8' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' \
    - "$IMAGE" >/dev/null

echo "base-image: built $IMAGE in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
