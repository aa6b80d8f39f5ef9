"""The local MLflow tracking server (`harness tracker`): a docker-compose service beside LocalStack.

Runs are kept in a sqlite file in a Docker volume, which `down` keeps; artifacts go through the
server (`--serve-artifacts`) into LocalStack's S3, so clients need no S3 credentials. Its port
is published where LocalStack's is (`docker_engine.HostRoute`): containers reach both as
host.docker.internal.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from harness.containers import compose, docker_engine, emulator
from harness.errors import HarnessError
from harness.project import ROOT, repo_file

MLFLOW_VERSION = "3.17.2"  # 3.18.0 does not install: PyPI has no mlflow-tracing 3.18.0 (2026-12)
IMAGE_ENV = "HARNESS_TRACKER_IMAGE"  # another tag, built from container/tracker/ when missing
PROJECT = "harness-tracker"
SERVICE = "tracker"
COMPOSE_FILE = "container/tracker/docker-compose.yml"
BUILD_SCRIPT = "container/tracker/build.sh"
VOLUME = f"{PROJECT}_data"  # docker-compose's name for the compose file's `data` volume
DB_FILE = "mlflow.db"  # in the volume, mounted at /mlflow
BUCKET = "harness-mlflow"
ARTIFACTS = f"s3://{BUCKET}/mlflow"
DEFAULT_PORT = 5000
PORT_ENV = "HARNESS_TRACKER_PORT"
UP_HINT = "start it with `harness tracker up`"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
LOOPBACK_FILE = "container/tracker/loopback.yml"


def default_port() -> int:
    value = os.environ.get(PORT_ENV, str(DEFAULT_PORT))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise HarnessError(f"{PORT_ENV}={value!r} is not a port number",
                           f"set {PORT_ENV} to a free port, e.g. 5001, or unset it")
    return int(value)


def image() -> str:
    return os.environ.get(IMAGE_ENV) or f"harness-tracker:{MLFLOW_VERSION}"


def host_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def container_url(url: str, engine=None) -> str:
    """The URL a sagemaker-local container uses for `url` as this machine knows it: this
    machine's own addresses (loopback, or where ports are published) become host.docker.internal;
    any other host is left as it is."""
    route = docker_engine.host_route(engine or docker_engine.client())
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in (*LOCAL_HOSTS, route.publish_ip):
        return url
    netloc = docker_engine.HOST_NAME + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def healthy(url: str, timeout_s: float = 3) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as answer:
            return answer.status == 200
    except OSError:
        return False


@dataclass(frozen=True)
class Status:
    running: bool  # it answers /health
    started: bool  # its container runs (it may still be starting)
    url: str
    port: int
    database: str  # the sqlite file on this machine (inside Docker's volume folder)
    artifacts: str


def _container(engine):
    """The tracker's container, running or not; None without one."""
    found = docker_engine.compose_containers(engine, [PROJECT])
    return found[0] if found else None


def _published_port(container) -> int | None:
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get("5000/tcp")
    return int(bindings[0]["HostPort"]) if bindings else None


def _database(engine) -> str:
    import docker

    try:
        folder = engine.volumes.get(VOLUME).attrs["Mountpoint"]
    except docker.errors.NotFound:
        return f"none yet (made by `harness tracker up` in Docker volume {VOLUME})"
    return f"{folder}/{DB_FILE}"


def status() -> Status:
    engine = docker_engine.client()
    container = _container(engine)
    started = container is not None and container.status == "running"
    port = (_published_port(container) if started else None) or default_port()
    url = host_url(port)
    return Status(started and healthy(url), started, url, port, _database(engine), ARTIFACTS)


def _port_taken(address: str, port: int) -> bool:
    """Whether another program listens on address:port (an address this machine lacks is
    Docker's to report). SO_REUSEADDR, as a server's: connections closing on it do not count."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def _require_port(port: int, route: docker_engine.HostRoute) -> None:
    addresses = dict.fromkeys((docker_engine.LOOPBACK, route.publish_ip))
    taken = [address for address in addresses if _port_taken(address, port)]
    if taken:
        raise HarnessError(f"port {port} is taken by another program (on {', '.join(taken)}), "
                           "so the tracking server cannot publish it",
                           f"stop that program, or pick another port: `harness tracker up --port "
                           f"{port + 1}` (or {PORT_ENV}={port + 1})")


def _compose(*args: str, route: docker_engine.HostRoute, port: int, s3_endpoint: str = "",
             quiet: bool = False) -> subprocess.CompletedProcess:
    files = route.compose_files(repo_file(COMPOSE_FILE), repo_file(LOOPBACK_FILE))
    command = [*compose.find().command, "-p", PROJECT, *files, *args]
    env = {**os.environ, **route.compose_environment(), PORT_ENV: str(port),
           IMAGE_ENV: image(), "HARNESS_TRACKER_S3_ENDPOINT": s3_endpoint,
           "HARNESS_TRACKER_ARTIFACTS": ARTIFACTS}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=quiet, text=True)


def _ensure_image(engine, say: Callable[[str], None]) -> None:
    """Build the image from PyPI where it is missing (no registry holds it)."""
    name = image()
    if docker_engine.has_image(engine, name):
        return
    script = repo_file(BUILD_SCRIPT)
    say(f"building {name} (MLflow from PyPI, a few minutes, once)")
    env = {**os.environ, "TRACKER_IMAGE": name, "MLFLOW_VERSION": MLFLOW_VERSION}
    built = subprocess.run(["bash", str(script)], cwd=ROOT, env=env)
    if built.returncode != 0:
        raise HarnessError(f"could not build {name}: pip in the build could not install MLflow "
                           "(no network to PyPI?)",
                           f"check that this machine reaches PyPI, then run `bash {script}`; "
                           "its output above says which step failed")


def _ensure_bucket(s3_endpoint: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    if BUCKET not in {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)


def logs_command() -> str:
    return f"{' '.join(compose.find().command)} -p {PROJECT} logs {SERVICE}"


def up(port: int | None = None, timeout_s: float = 120,
       say: Callable[[str], None] = lambda line: None) -> str:
    """Start the server (building its image, and LocalStack with the bucket, where needed) and
    wait until `/health` answers; return its URL on this machine. A server that answers on this
    port is left as it is; LocalStack is started again if it was stopped under it."""
    engine = docker_engine.client()
    compose.find()  # before a build of minutes, not after
    port = port or default_port()
    url = host_url(port)
    current = _container(engine)
    route = docker_engine.host_route(engine)
    if current is None or current.status != "running" or _published_port(current) != port:
        _require_port(port, route)  # before a build of minutes, not after
    _ensure_image(engine, say)
    say("LocalStack, the artifact store")
    s3_endpoint = emulator.up()
    _ensure_bucket(s3_endpoint)
    if healthy(url):
        return url
    say(f"starting MLflow {MLFLOW_VERSION} at {url}")
    started = _compose("up", "-d", route=route, port=port,
                       s3_endpoint=container_url(s3_endpoint, engine))
    if started.returncode != 0:
        _compose("down", route=route, port=port, quiet=True)
        raise HarnessError(f"the tracking server's container did not start (docker-compose exit "
                           f"{started.returncode})", "see docker-compose's output above")
    _wait_healthy(url, timeout_s, say)
    return url


def _wait_healthy(url: str, timeout_s: float, say: Callable[[str], None]) -> None:
    start = time.monotonic()
    said = start
    while not healthy(url):
        now = time.monotonic()
        if now - start >= timeout_s:
            raise HarnessError(f"the tracking server did not answer {url}/health within "
                               f"{timeout_s:.0f} s",
                               f"see `{logs_command()}`")
        if now - said >= 5:
            say(f"waiting for {url}/health ({now - start:.0f} s)")
            said = now
        time.sleep(0.5)


def down() -> None:
    """Stop and remove the server's container and network; its database volume is kept."""
    engine = docker_engine.client()
    container = _container(engine)
    port = (_published_port(container) if container is not None else None) or default_port()
    result = _compose("down", route=docker_engine.host_route(engine), port=port)
    if result.returncode != 0:
        raise HarnessError(f"`docker-compose -p {PROJECT} down` failed (exit {result.returncode})")
