"""Every touch of SDK v2 local mode's private API, in one place. Each is applied from a function,
for as long as it is needed, never at import. They depend on the SDK's internals, which is why
harness runs on 2.257.x only (`harness.sdk.SUPPORTED`; v2 is in maintenance, and
`scripts/sdk-v2-check.sh` runs them against 2.257.7)."""

from __future__ import annotations

from pathlib import Path

from harness.sdk import local_mode


def checkpoint_volume(host_dir: Path | None):
    from sagemaker.local import image as sdk_image

    return local_mode.checkpoint_volume(sdk_image, host_dir)


def allow_startup(startup_timeout_s: float) -> None:
    from sagemaker.local import entities

    local_mode.allow_startup(entities, startup_timeout_s)


def serving_port_bound(address: str):
    from sagemaker.local import image as sdk_image

    return local_mode.serving_port_bound(sdk_image, address)


def compose_found() -> None:
    from sagemaker.local import image as sdk_image

    local_mode.compose_found(sdk_image)


def containers_reach_host() -> None:
    from sagemaker.local import image as sdk_image

    local_mode.containers_reach_host(sdk_image)
