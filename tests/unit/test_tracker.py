"""The tracker's addresses and its pinned MLflow, without Docker."""

import re

import pytest

from harness.containers import tracker
from harness.errors import HarnessError
from harness.project import ROOT


class LinuxEngine:
    """What `docker_engine.host_route` reads of an engine: `docker info` and the bridge."""

    def info(self):
        return {"OperatingSystem": "Debian GNU/Linux 12 (bookworm)"}

    class networks:
        @staticmethod
        def get(name):
            return type("Network", (), {"attrs": {"IPAM": {"Config": [
                {"Subnet": "172.31.0.0/16", "Gateway": "172.31.0.1"}]}}})


@pytest.mark.parametrize(("url", "inside"), [
    ("http://localhost:5000", "http://host.docker.internal:5000"),
    ("http://127.0.0.1:5001/", "http://host.docker.internal:5001/"),
    ("http://0.0.0.0:5000/api", "http://host.docker.internal:5000/api"),
    ("http://172.31.0.1:5000", "http://host.docker.internal:5000"),
    ("http://tracker.internal:5000", "http://tracker.internal:5000"),
    ("https://mlflow.example.com", "https://mlflow.example.com"),
])
def test_container_url_names_this_machine_as_containers_do(url, inside):
    assert tracker.container_url(url, LinuxEngine()) == inside


def test_the_port_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(tracker.PORT_ENV, raising=False)
    assert tracker.default_port() == 5000
    monkeypatch.setenv(tracker.PORT_ENV, "5123")
    assert tracker.default_port() == 5123
    monkeypatch.setenv(tracker.PORT_ENV, "http")
    with pytest.raises(HarnessError, match="is not a port number"):
        tracker.default_port()


def test_one_mlflow_version_everywhere():
    """The image's build, its compose file and harness name the same MLflow release."""
    folder = ROOT / "container" / "tracker"
    found = {re.search(r"MLFLOW_VERSION:-([\d.]+)", (folder / "build.sh").read_text())[1],
             re.search(r"ARG MLFLOW_VERSION=([\d.]+)", (folder / "Dockerfile").read_text())[1],
             re.search(r"harness-tracker:([\d.]+)", (folder / "docker-compose.yml").read_text())[1]}
    assert found == {tracker.MLFLOW_VERSION}
