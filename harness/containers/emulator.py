"""LocalStack (S3, STS, IAM) under docker-compose: the S3 of the `sagemaker-local` mode."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

from harness.containers import compose, docker_engine
from harness.errors import HarnessError
from harness.project import ROOT, repo_file

PROJECT = "harness"
IMAGE = "localstack/localstack:4.14.0"
PORT = 4566
ENDPOINT_ENV = "HARNESS_S3_ENDPOINT"
UP_HINT = "start it with `harness emulator up`"


def endpoint_url(engine=None) -> str:
    """The S3 endpoint as this machine reaches it: where its port is published (the bridge
    gateway, or 127.0.0.1 on Docker Desktop). Containers reach it as HostRoute.for_containers
    names it: host.docker.internal."""
    if os.environ.get(ENDPOINT_ENV):
        return os.environ[ENDPOINT_ENV].rstrip("/")
    return f"http://{docker_engine.host_route(engine or docker_engine.client()).publish_ip}:{PORT}"


def health(url: str, timeout_s: float = 3) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=timeout_s) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


def require(url: str, within_s: float = 5) -> None:
    """Fail within `within_s` unless LocalStack's S3 answers at `url`."""
    deadline = time.monotonic() + within_s
    while True:
        state = health(url, timeout_s=min(3, within_s))
        if state and state.get("services", {}).get("s3") in ("available", "running"):
            return
        if time.monotonic() >= deadline:
            raise HarnessError(f"LocalStack S3 is not reachable at {url}", UP_HINT)
        time.sleep(0.5)


def _compose(*args: str, route: docker_engine.HostRoute) -> None:
    files = route.compose_files(repo_file("docker-compose.yml"),
                                repo_file("container/localstack/loopback.yml"))
    command = [*compose.find().command, "-p", PROJECT, *files, *args]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **route.compose_environment()})
    if result.returncode != 0:
        raise HarnessError(f"`{' '.join(command)}` failed (exit {result.returncode})")


def _ensure_image(engine) -> None:
    """Pull LocalStack; where no registry can be reached, build the same release from PyPI."""
    import docker

    if docker_engine.has_image(engine, IMAGE):
        return
    try:
        engine.images.pull(IMAGE)
    except docker.errors.APIError:
        script = repo_file("container/localstack/build.sh")
        if subprocess.run(["bash", str(script)], cwd=ROOT).returncode != 0:
            raise HarnessError(f"could not pull or build {IMAGE}",
                               f"see the output of {script}") from None


def up(timeout_s: float = 120) -> str:
    engine = docker_engine.client()
    compose.find()  # before a build of minutes, not after
    _ensure_image(engine)
    _compose("up", "-d", route=docker_engine.host_route(engine))
    url = endpoint_url(engine)
    try:
        require(url, within_s=timeout_s)
    except HarnessError:
        raise HarnessError(f"LocalStack did not become healthy within {timeout_s:.0f} s at {url}",
                           f"see `{' '.join(compose.find().command)} -p {PROJECT} logs "
                           "localstack`") from None
    return url


def down(volumes: bool = False) -> None:
    engine = docker_engine.client()
    _compose("down", *(["--volumes"] if volumes else []),
             route=docker_engine.host_route(engine))
