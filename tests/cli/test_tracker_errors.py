"""`harness tracker up` fails on one screen, with its fix, and leaves no container behind: no
Docker engine, no Compose, its port taken by another program, its image build without PyPI.
Each case is made by changing the environment, never harness."""

from __future__ import annotations

import socket
import uuid

from harness.containers import tracker
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.path_shims import NO_COMPOSE_PLUGIN, path_without


def failed_up(*args: str, env: dict | None = None) -> tuple[str, str]:
    """The error and fix lines of a `harness tracker up` that must fail."""
    result = harness("tracker", "up", *args, check=False, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "  fix:"))]
    assert len(lines) == 2, result.stderr
    return lines[0], lines[1]


def tracker_containers(engine) -> list[tuple[str, str]]:
    from harness.containers import docker_engine

    return sorted((c.id, c.status) for c in docker_engine.compose_containers(engine, [tracker.PROJECT]))


def test_no_docker_engine(tmp_path):
    error, fix = failed_up(env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert error.startswith("error: Docker is not running or not reachable at unix://")
    assert "start the Docker engine" in fix


def test_no_compose(tmp_path, tracker_engine):
    before = tracker_containers(tracker_engine)
    path = path_without(tmp_path / "bin", "docker", "docker-compose",
                        scripts={"docker": NO_COMPOSE_PLUGIN})
    error, fix = failed_up(env={"PATH": path})
    assert error.startswith("error: Docker Compose is not installed")
    assert "docker-compose" in fix
    assert tracker_containers(tracker_engine) == before


def test_port_taken_by_another_program(tracker_engine):
    before = tracker_containers(tracker_engine)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        error, fix = failed_up("--port", str(port))
    assert error == (f"error: port {port} is taken by another program (on 127.0.0.1), so the "
                     "tracking server cannot publish it")
    assert f"--port {port + 1}" in fix and tracker.PORT_ENV in fix
    assert tracker_containers(tracker_engine) == before  # a running tracker is left as it was


def test_image_build_without_pypi(tracker_engine):
    """pip in the build reaches no index: the error names the build and the fix, and neither
    the image nor a build container is left."""
    from harness.containers import docker_engine

    image = f"harness-tracker:no-pypi-{uuid.uuid4().hex[:8]}"
    before = tracker_containers(tracker_engine)
    error, fix = failed_up("--port", str(free_port()), env={
        tracker.IMAGE_ENV: image, "PIP_INDEX_URL": f"http://127.0.0.1:{free_port()}/simple"})
    assert error == (f"error: could not build {image}: pip in the build could not install "
                     "MLflow (no network to PyPI?)")
    assert "reaches PyPI" in fix and "container/tracker/build.sh" in fix
    assert not docker_engine.has_image(tracker_engine, image)
    failed_builds = [c for c in tracker_engine.containers.list(all=True, ignore_removed=True)
                     if c.status != "running"  # a build of the real image may be under way
                     and "/opt/mlflow/bin/pip install" in " ".join(c.attrs["Config"]["Cmd"] or [])]
    assert not failed_builds
    assert tracker_containers(tracker_engine) == before
