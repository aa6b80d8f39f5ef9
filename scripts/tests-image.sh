#!/usr/bin/env bash
# Build the `tests` compose service's image (harness-tests:latest) unless it is there and was
# built from the same inputs (its Dockerfile, pyproject.toml's dependencies and test extras,
# and the image's pins, whose hash it carries as a label), on the base container/build.sh picks
# (python:3.11-slim, or the debootstrap base where no registry answers) and with torch from
# container/wheelhouse/. `docker-compose run --rm tests` would build it too, but always on
# python:3.11-slim.
set -euo pipefail
cd "$(dirname "$0")/.."
dependencies=$(python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))')
inputs=$( (cat container/tests.Dockerfile container/requirements.txt; echo "$dependencies") \
    | sha256sum | cut -c1-16)
built=$(docker image inspect -f '{{index .Config.Labels "com.harness.inputs"}}' \
    harness-tests:latest 2>/dev/null || true)
if [ "$built" != "$inputs" ]; then
    HARNESS_TESTS_INPUTS=$inputs \
        HARNESS_BASE_IMAGE=$(PREPARE_ONLY=1 bash container/build.sh | tail -n 1) \
        docker-compose build tests
fi
