#!/usr/bin/env bash
# Install everything harness needs on this machine, idempotently:
#   1. the package with its test extras, constrained to the versions the image pins
#      (container/requirements.txt: torch 2.13.0, so pip takes a local CPU wheel where one is
#      provided, not PyPI's newest CUDA build that pyproject's range would allow);
#   2. a Docker engine with docker-compose (Debian's packages, when none runs yet);
#   3. the training/serving image and LocalStack 4.14.0, built offline when no registry answers,
#      and the MLflow tracking server's image (`harness tracker up` starts it).
# Without a way to get Docker (no apt, no engine) steps 2-3 are skipped with a warning, and the
# sagemaker-local tests skip; under CI=true that is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# An SDK v2 goes first: its files share sagemaker/serve/ with v3's sagemaker-serve, and pip
# upgrading in place removes some that v3 has just installed.
if python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("sagemaker") >= "3")' \
        2>/dev/null; then
    python3 -m pip uninstall -y -q sagemaker
fi
# SDK v3 named too: pip keeps an installed v2 that pyproject's range allows, and this
# environment is the v3 one (scripts/sdk-v2-check.sh makes v2's).
python3 -m pip install --progress-bar off -e ".[test]" "sagemaker>=3.27,<4" \
    -c container/requirements.txt

if docker info >/dev/null 2>&1 || command -v apt-get >/dev/null 2>&1; then
    bash scripts/install-docker.sh
    # The base image first (both lanes build on it), then the images in two lanes at once:
    # their builds wait on downloads more than on the CPU. Each line says its lane.
    PREPARE_ONLY=1 bash container/build.sh
    images() { harness image build && bash container/tracker/build.sh; }
    # LocalStack, and the `tests` compose service's image (tests/cli/test_ci_templates.py)
    services() { harness emulator up && bash scripts/tests-image.sh; }
    lane() { "$2" 2>&1 | sed -u "s/^/[$1] /"; }
    lane images images & images_lane=$!
    lane services services & services_lane=$!
    failed=0
    wait "$images_lane" || failed=1
    wait "$services_lane" || failed=1
    if [ "$failed" = 1 ]; then
        echo "install: an image build failed; its lines above say why" >&2
        exit 1
    fi
elif [ "${CI:-}" = "true" ]; then
    echo "install: no Docker engine and no apt-get to install one" >&2
    exit 1
else
    echo "install: no Docker engine and no apt-get; skipping the sagemaker-local set-up" >&2
fi
