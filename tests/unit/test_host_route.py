"""Containers reach this machine's services (LocalStack) as host.docker.internal: Docker Desktop
resolves the name itself and publishes on the host's loopback; a Linux engine is told that the
name is its bridge gateway, where the ports are published. The Desktop case is `docker info`
as Docker documents it for Docker Desktop (fixtures/docker-info-desktop.json, written from the
docs: no machine here runs Desktop); the Linux case is this machine's engine."""

import json
import subprocess
from pathlib import Path

import pytest

from harness.containers import docker_engine
from harness.containers.docker_engine import HOST_NAME, HostRoute
from harness.project import repo_file
from harness.pytest_plugin import require_docker
from tests.support.path_shims import REAL_COMPOSE

DESKTOP_INFO = json.loads((Path(__file__).parent / "fixtures" / "docker-info-desktop.json")
                          .read_text())


def test_docker_desktop_is_told_apart_from_a_linux_engine():
    assert docker_engine.is_docker_desktop(DESKTOP_INFO)
    assert docker_engine.is_docker_desktop({"OperatingSystem": "Docker for Mac"})  # before 2020
    assert not docker_engine.is_docker_desktop({"OperatingSystem": "Debian GNU/Linux 12 "
                                                                   "(bookworm)"})
    assert not docker_engine.is_docker_desktop({})


def test_this_linux_engine_maps_the_name_to_its_bridge_gateway():
    require_docker()
    engine = docker_engine.client()
    if docker_engine.is_docker_desktop(engine.info()):
        pytest.skip("this engine is Docker Desktop")
    gateway = docker_engine.bridge_gateway(engine)
    assert docker_engine.host_route(engine) == HostRoute(gateway, (f"{HOST_NAME}:{gateway}",))


def test_a_compose_service_is_routed_on_linux_and_on_docker_desktop():
    service = {"image": "harness-train:x", "extra_hosts": ["other:10.0.0.9"],
               "environment": ["AWS_ENDPOINT_URL_S3=http://172.17.0.1:4566",
                               "S3_ENDPOINT_URL=http://172.17.0.1:4566", "KEEP=172.17.0.1"]}
    linux = HostRoute("172.17.0.1", (f"{HOST_NAME}:172.17.0.1",)).applied(service)
    assert linux["environment"] == [f"AWS_ENDPOINT_URL_S3=http://{HOST_NAME}:4566",
                                    f"S3_ENDPOINT_URL=http://{HOST_NAME}:4566", "KEEP=172.17.0.1"]
    assert linux["extra_hosts"] == ["other:10.0.0.9", f"{HOST_NAME}:172.17.0.1"]
    assert service["environment"][0].endswith("172.17.0.1:4566")  # the SDK's own is left alone

    desktop = HostRoute("127.0.0.1", ()).applied(
        {"image": "harness-train:x", "environment": {"S3_ENDPOINT_URL": "http://127.0.0.1:4566"}})
    assert desktop == {"image": "harness-train:x",
                       "environment": [f"S3_ENDPOINT_URL=http://{HOST_NAME}:4566"]}


def test_localstack_compose_file_publishes_once_on_docker_desktop_too(tmp_path):
    """On Desktop LocalStack is published on 127.0.0.1 only (its VM's bridge gateway is no
    address of the host): Compose must accept the file so rendered."""
    if REAL_COMPOSE is None:
        pytest.skip("no docker-compose binary")
    for publish_ip in ("127.0.0.1", "172.17.0.1"):
        rendered = subprocess.run(
            [REAL_COMPOSE, "-f", str(repo_file("docker-compose.yml")), "config"],
            capture_output=True, text=True, env={"HARNESS_BRIDGE_IP": publish_ip,
                                                 "PATH": "/usr/bin:/bin", "PWD": str(tmp_path)},
            cwd=tmp_path)
        assert rendered.returncode == 0, rendered.stderr
        assert f"{publish_ip}:4566:4566" in rendered.stdout.replace("'", "").replace('"', "")
