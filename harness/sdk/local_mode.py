"""The patches SDK local mode needs under both majors: v3's `sagemaker.core.local` is v2's
`sagemaker.local` moved, with the same private classes. `patches_v2.py` and `patches_v3.py`
apply them to their major's modules; nothing here imports the SDK."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.containers import compose, docker_engine

SDK_PING_INTERVAL_S = 5  # how often SDK local mode checks the container's /ping


@contextlib.contextmanager
def checkpoint_volume(sdk_image: ModuleType, host_dir: Path | None):
    """Mount `host_dir` at /opt/ml/checkpoints in training containers, as SageMaker's checkpoint
    config does. SDK local mode rejects `checkpoint_s3_uri`, so its volume list is extended."""
    if host_dir is None:
        yield
        return
    container = sdk_image._SageMakerContainer
    original = container._prepare_training_volumes

    def with_checkpoints(self, *args, **kwargs):
        return [*original(self, *args, **kwargs),
                sdk_image._Volume(str(host_dir), "/opt/ml/checkpoints")]

    container._prepare_training_volumes = with_checkpoints
    try:
        yield
    finally:
        container._prepare_training_volumes = original


def allow_startup(sdk_entities: Any, startup_timeout_s: float) -> None:
    """SDK local mode gives up on the serving container's /ping after its module constant
    HEALTH_CHECK_TIMEOUT_LIMIT (120 s), read at every check. Raise it past
    `endpoint.startup_timeout_s`, so that harness's own wait, with its clear error, decides.
    Only the endpoint host calls this: that process exists for one endpoint."""
    sdk_entities.HEALTH_CHECK_TIMEOUT_LIMIT = startup_timeout_s + 2 * SDK_PING_INTERVAL_S


def compose_found(sdk_image: ModuleType) -> None:
    """SDK local mode runs the Compose harness found (`compose.find`), not the one its own
    detection finds (v2 takes `docker compose` only when its version text holds "v2"; a missing
    `docker` is an uncaught FileNotFoundError). The SDK extends the list it gets, so each
    container gets a new one. Set for the process, as the SDK's detection would be."""
    command = compose.find().command
    sdk_image._SageMakerContainer._get_compose_cmd_prefix = staticmethod(lambda: list(command))


def containers_reach_host(sdk_image: ModuleType) -> None:
    """SDK local mode's containers reach this machine's LocalStack (and tracker) as
    `host.docker.internal` (`docker_engine.HostRoute`): a Linux engine is told where that is,
    and the S3 endpoint the SDK copies into training containers from the host's session is
    renamed so. Set for the process, as compose_found."""
    _compose_service_settings(sdk_image)["route"] = docker_engine.host_route(
        docker_engine.client())


@contextlib.contextmanager
def serving_port_bound(sdk_image: ModuleType, address: str):
    """Publish the serving container's port on `address` only: SDK local mode writes
    `<port>:8080` into its compose file, which Docker publishes on every interface."""
    settings = _compose_service_settings(sdk_image)
    previous, settings["bind_address"] = settings["bind_address"], address
    try:
        yield
    finally:
        settings["bind_address"] = previous


def _compose_service_settings(sdk_image: ModuleType) -> dict[str, Any]:
    """What harness changes in the compose service SDK local mode writes for each container
    (`_SageMakerContainer._create_docker_host`): one wrapper per process, whatever the order
    in which sessions and endpoints set and reset these."""
    container = sdk_image._SageMakerContainer
    settings = getattr(container._create_docker_host, "harness_settings", None)
    if settings is not None:
        return settings
    original = container._create_docker_host
    settings = {"route": None, "bind_address": None}

    def changed(self, *args, **kwargs):
        service = original(self, *args, **kwargs)
        if settings["route"] is not None:
            service = settings["route"].applied(service)
        if settings["bind_address"] is not None and "ports" in service:
            service["ports"] = [f"{settings['bind_address']}:{port}" for port in service["ports"]]
        return service

    changed.harness_settings = settings  # type: ignore[attr-defined]
    container._create_docker_host = changed
    return settings
