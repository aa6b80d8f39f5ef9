"""The Docker engine: reachable or a clear error, images present or how to build them, and the
janitor for containers and networks harness's runs leave behind."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.host import ownership

SDK_NETWORK = "sagemaker-local"  # the network SDK local mode's docker-compose files use
COMPOSE_PROJECT = "com.docker.compose.project"  # docker-compose's label on what it creates
HOST_NAME = "host.docker.internal"  # this machine, as containers name it
LOOPBACK = "127.0.0.1"

START_HINT = ("start the Docker engine: `sudo systemctl start docker` (or `sudo dockerd &`); "
              "on Debian without Docker: `sudo bash scripts/install-docker.sh`")


def client():
    import docker

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        engine = docker.from_env(timeout=10)
        engine.ping()
    except Exception as e:  # noqa: BLE001 - docker-py raises several unrelated types for "not there"
        raise HarnessError(f"Docker is not running or not reachable at {where} ({e})",
                           START_HINT) from None
    return engine


def has_image(engine, image: str) -> bool:
    import docker

    try:
        engine.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def require_image(engine, image: str, build_hint: str) -> None:
    if not has_image(engine, image):
        raise HarnessError(f"Docker image {image} is missing", build_hint)


def bridge_gateway(engine) -> str:
    """The host's address on Docker's default bridge, which containers can reach."""
    import ipaddress

    ipam = engine.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker 20.10 omits Gateway for the default bridge; it is the subnet's first address.
    return ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))


def is_docker_desktop(info: dict) -> bool:
    """`docker info` of Docker Desktop (macOS, Windows, Linux): "Docker Desktop", formerly
    "Docker for Mac" / "Docker for Windows"."""
    system = info.get("OperatingSystem") or ""
    return system == "Docker Desktop" or system.startswith("Docker for ")


@dataclass(frozen=True)
class HostRoute:
    """How containers reach services of this machine (LocalStack): by HOST_NAME, which Docker
    Desktop resolves itself and a Linux engine is told (`extra_hosts`) to resolve to its bridge
    gateway. Their ports are published on `publish_ip`, which this machine reaches as well: the
    bridge gateway on Linux (Docker Desktop's lies inside its VM), 127.0.0.1 on Docker Desktop
    (whose HOST_NAME leads to the host's loopback)."""

    publish_ip: str
    extra_hosts: tuple[str, ...]

    @property
    def loopback_too(self) -> bool:
        """Ports are also published on 127.0.0.1, where this machine's tools look for them
        (`localhost:4566`), unless `publish_ip` is that address already (Docker Desktop)."""
        return self.publish_ip != LOOPBACK

    def compose_environment(self) -> dict[str, str]:
        """What harness's compose files read: where ports are published, and what HOST_NAME
        resolves to in their services (Docker Desktop's own mapping: `host-gateway`)."""
        gateway = self.extra_hosts[0].split(":", 1)[1] if self.extra_hosts else "host-gateway"
        return {"HARNESS_BRIDGE_IP": self.publish_ip, "HARNESS_HOST_GATEWAY": gateway}

    def compose_files(self, base: Path, loopback: Path) -> list[str]:
        """`-f` arguments: `base`, and `loopback` (its ports on 127.0.0.1) where `loopback_too`."""
        files = [base, loopback] if self.loopback_too else [base]
        return [argument for file in files for argument in ("-f", str(file))]

    def for_containers(self, url: str) -> str:
        """`url`, as this machine reaches a service on `publish_ip`, as containers reach it."""
        return url.replace(f"://{self.publish_ip}:", f"://{HOST_NAME}:", 1)

    def applied(self, service: dict) -> dict:
        """A compose service (SDK local mode's) that reaches this machine: `extra_hosts`, and
        environment values naming `publish_ip` (the S3 endpoint the SDK copies from the host's
        session) naming HOST_NAME instead."""
        environment = service.get("environment") or []
        if isinstance(environment, dict):
            environment = [f"{key}={value}" for key, value in environment.items()]
        routed = {**service, "environment": [self.for_containers(entry) for entry in environment]}
        if self.extra_hosts:
            routed["extra_hosts"] = [*(service.get("extra_hosts") or []), *self.extra_hosts]
        return routed


def host_route(engine) -> HostRoute:
    if is_docker_desktop(engine.info()):
        return HostRoute(LOOPBACK, ())
    gateway = bridge_gateway(engine)
    # The gateway itself, not `host-gateway`: it is where the ports are published, whatever the
    # daemon's host-gateway-ip, and engines before 20.10 take it too.
    return HostRoute(gateway, (f"{HOST_NAME}:{gateway}",))


def labelled_containers(engine, label: str, *, stopped: bool = True) -> list:
    """Containers with this label (running ones only, unless `stopped`). One removed while
    they are listed (docker-compose tearing down) is left out rather than raising NotFound."""
    return engine.containers.list(all=stopped, filters={"label": label}, ignore_removed=True)


@contextlib.contextmanager
def unless_gone():
    """Ignore that a container was gone, stopped or being removed (404, 409) by the time it
    is acted on: docker-compose may be tearing it down at the same moment."""
    import docker

    try:
        yield
    except docker.errors.APIError as e:
        if e.status_code not in (404, 409):
            raise


def force_remove(container) -> None:
    """Remove a container, running or not; one already gone, or going, is fine."""
    with unless_gone():
        container.remove(force=True)


def compose_containers(engine, projects: list[str], *, stopped: bool = True) -> list:
    """The containers of these docker-compose projects (running ones only, unless `stopped`)."""
    return [container for project in projects for container in labelled_containers(
        engine, f"{COMPOSE_PROJECT}={project}", stopped=stopped)]


def remove_compose_projects(engine, projects: list[str]) -> None:
    """Force-remove every container of these docker-compose projects."""
    for container in compose_containers(engine, projects):
        force_remove(container)


def chown_tree(engine, image: str, folder: Path, uid: int, gid: int) -> None:
    """Make `folder` (which containers wrote into as root) owned by uid:gid again, from a
    throwaway container: the host user may not be allowed to change or delete those files."""
    if folder.exists():
        engine.containers.run(image, ["chown", "-R", f"{uid}:{gid}", "/folder"], remove=True,
                              entrypoint=[], volumes={str(folder.resolve()): {"bind": "/folder"}},
                              network_mode="none", labels=ownership.container_labels())


def kill_compose_projects(engine, projects: list[str]) -> None:
    """SIGKILL the running containers of these docker-compose projects (a lost machine)."""
    for container in compose_containers(engine, projects, stopped=False):
        with unless_gone():
            container.kill()


def remove_sdk_network(engine, projects: list[str], name: str = SDK_NETWORK) -> bool:
    """Remove the SDK's network when one of these docker-compose projects (harness's) created
    it and no container uses it; say whether it was removed. A network the user's own SDK
    runs created is never harness's to remove, even when it is idle."""
    import docker

    try:
        network = engine.networks.get(name)
        network.reload()
        creator = (network.attrs.get("Labels") or {}).get(COMPOSE_PROJECT)
        if creator in projects and not network.attrs.get("Containers"):
            network.remove()
            return True
    except docker.errors.NotFound:
        pass
    return False


def run_containers(engine, run: Path | str) -> list:
    """The containers started for a run, running or not."""
    return labelled_containers(engine, ownership.run_label(run))


def leftover_containers(engine, run: Path | None = None) -> list:
    """Containers harness started whose owner is gone (only those of `run`, if given)."""
    label = ownership.run_label(run) if run else ownership.LABEL_OWNER
    return [c for c in labelled_containers(engine, label)
            if not ownership.alive(c.labels.get(ownership.LABEL_OWNER, ""))]


def owned_containers(engine, run: Path, owner: str) -> list:
    """The containers of `run` that `owner` (see `ownership`) started, running or not."""
    return [c for c in run_containers(engine, run)
            if c.labels.get(ownership.LABEL_OWNER) == owner]


def remove_leftovers(engine) -> list[str]:
    """Remove every leftover container, then the SDK's network if their docker-compose
    projects created it and nothing uses it; return what was removed, one line each."""
    removed, projects = [], []
    for container in leftover_containers(engine):
        removed.append(f"container {container.name} "
                       f"(run {container.labels.get(ownership.LABEL_RUN)})")
        projects.append(container.labels.get(COMPOSE_PROJECT))
        force_remove(container)
    if remove_sdk_network(engine, projects):
        removed.append(f"network {SDK_NETWORK}")
    return removed
