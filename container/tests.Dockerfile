# The `tests` service of docker-compose.yml: a Python environment with harness's dependencies,
# the Docker CLI and docker-compose, in which a project's pytest suite runs next to LocalStack.
# harness itself is not copied in: the service mounts the checkout at /opt/harness (PYTHONPATH),
# so the image changes only with pyproject.toml's dependencies.
#
#   docker-compose build tests      # or let `docker-compose run --rm tests` build it once
#
# Works on python:3.11-slim and on the offline Debian base (python3 + python3-venv, no pip).
# Only the legacy builder is assumed. The context is the checkout, trimmed by .dockerignore.

ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# Corporate TLS proxies: container/certs/*.crt join the trust store (as in container/Dockerfile).
ARG PIP_CERT=/etc/ssl/certs/ca-certificates.crt
# e.g. https://download.pytorch.org/whl/cpu: torch's CPU build, not the CUDA one PyPI gives.
ARG PIP_EXTRA_INDEX_URL=
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    PIP_CERT=${PIP_CERT} REQUESTS_CA_BUNDLE=${PIP_CERT} SSL_CERT_FILE=${PIP_CERT} \
    AWS_CA_BUNDLE=${PIP_CERT}
COPY container/certs/ /usr/local/share/ca-certificates/harness/

# docker.io for its CLI (SDK local mode calls `docker`), docker-compose (v1, which SDK local
# mode and `harness emulator` drive), gcc + headers for sagemaker-training's C extension.
RUN set -eux; \
    find /usr/local/share/ca-certificates/harness -type f ! -name '*.crt' -delete; \
    pkgs="docker.io docker-compose gcc libc6-dev ca-certificates git"; \
    inc="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"; \
    [ -f "$inc/Python.h" ] || pkgs="$pkgs python3-dev"; \
    python3 -c 'import venv, ensurepip' 2>/dev/null || pkgs="$pkgs python3-venv"; \
    apt-get update; \
    apt-get install -y --no-install-recommends $pkgs; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    update-ca-certificates

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY container/wheelhouse/ /tmp/wheelhouse/
COPY pyproject.toml /tmp/harness/pyproject.toml
COPY container/requirements.txt /tmp/harness/constraints.txt
# harness's dependencies and test extras as pyproject.toml gives them, the ML stack at the
# versions of the training image's requirements (pyproject.toml has ranges).
RUN set -eux; \
    python3 -m venv /opt/venv; \
    pip install --upgrade pip setuptools wheel; \
    python -c 'import tomllib; p = tomllib.load(open("/tmp/harness/pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))' > /tmp/harness/requirements.txt; \
    pip install --find-links /tmp/wheelhouse ${PIP_EXTRA_INDEX_URL:+--extra-index-url "$PIP_EXTRA_INDEX_URL"} -r /tmp/harness/requirements.txt \
        -c /tmp/harness/constraints.txt; \
    rm -rf /tmp/wheelhouse /tmp/harness /root/.cache/pip; \
    docker --version; docker-compose --version; python -c 'import torch, transformers, sagemaker, pytest, xdist'

# The checkout (mounted) is harness; its pytest plugin is on for every suite.
ENV PYTHONPATH=/opt/harness PYTEST_ADDOPTS="-p harness.pytest_plugin" HF_HUB_DISABLE_TELEMETRY=1
