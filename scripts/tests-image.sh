#!/usr/bin/env bash
# Build the `tests` compose service's image (harness-tests:latest) unless it exists, on the base
# container/build.sh picks (python:3.11-slim, or the debootstrap base where no registry
# answers) and with torch from container/wheelhouse/. `docker-compose run --rm tests` would
# build it too, but always on python:3.11-slim.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker image inspect harness-tests:latest >/dev/null 2>&1; then
    HARNESS_BASE_IMAGE=$(PREPARE_ONLY=1 bash container/build.sh | tail -n 1) \
        docker-compose build tests
fi
