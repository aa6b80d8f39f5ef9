#!/usr/bin/env bash
# Install and start a Docker engine on an offline Debian machine (idempotent).
#
# - Debian's docker.io gives dockerd 20.10.24 (API 1.41). The preinstalled CLI at
#   /usr/local/bin/docker is v28.2 (API 1.50), which is first on PATH. It
#   negotiates down by itself ("API version: 1.41 (downgraded from 1.50)"), so
#   no DOCKER_API_VERSION is needed; /usr/bin/docker (20.10, from docker.io)
#   matches the daemon exactly and works too. Neither has the `compose` or
#   `buildx` plugin: use the legacy builder (DOCKER_BUILDKIT=0) and
#   docker-compose v1.
# - docker-compose 1.29.2 (Debian, docker-py 5.0.3) auto-negotiates the API and
#   works with this engine. The SageMaker SDK v2 falls back to it because
#   `docker compose version` fails here.
# - Everything ends when the session ends: run this at the start of each session.
set -euo pipefail

LOG=/var/log/dockerd.log

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# the no-egress test builds a network namespace with these
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ] && ! command -v apt-get >/dev/null 2>&1; then
    # Not Debian: an engine that already runs is enough (images then need a registry).
    docker info >/dev/null 2>&1 && exit 0
    echo "install-docker: ${missing[*]} missing and no apt-get to install them" >&2
    exit 1
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-docker: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1 && ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "install-docker: starting dockerd (log: $LOG)"
    $SUDO touch "$LOG"
    # setsid + nohup: the daemon survives this script and the calling shell.
    $SUDO setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo "install-docker: docker engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        docker-compose version --short >/dev/null 2>&1 \
            || { echo "install-docker: docker-compose does not work" >&2; exit 1; }
        exit 0
    fi
    sleep 1
done

echo "install-docker: dockerd did not come up within 60 s; last log lines:" >&2
tail -n 50 "$LOG" >&2 || true
exit 1
