"""Every touch of SDK v3's private API, in one place, applied from a function, never at import."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.sdk import local_mode

# Instance types with GPUs or AWS accelerators: local containers get none of them (v3 would
# start the job on this machine's CPU as if it were one).
ACCELERATED = re.compile(r"ml\.(p|g|trn|inf)\d")
LOCAL_TYPE_FIX = ("use Compute(instance_type=session.instance_type, "
                  "instance_count=session.instance_count) from harness.session(): `local` "
                  "(`local_gpu` runs on this machine's GPUs)")


def local_training(labels: dict[str, str]) -> Callable[[], None]:
    """While a harness session is open: ModelTrainer's local training containers get `labels`
    (v2 takes them from the session's `container_config`; v3's have none), so that the
    session's close finds and removes them; and the v3 mistakes local mode cannot run are
    HarnessErrors with their fix: a ModelTrainer without `training_image`, an accelerated
    instance type. Returns the undo."""
    from pydantic import ValidationError
    from sagemaker.train.local.local_container import _LocalContainer
    from sagemaker.train.model_trainer import Mode, ModelTrainer

    original_host = _LocalContainer._create_docker_host
    original_train = _LocalContainer.train
    original_init = ModelTrainer.__init__

    route = docker_engine.host_route(docker_engine.client())

    def labelled(self, *args, **kwargs):  # and reaching LocalStack as v2's (patches_v2)
        return route.applied({**original_host(self, *args, **kwargs), "labels": dict(labels)})

    def checked_train(self, *args, **kwargs):
        if ACCELERATED.match(self.instance_type):
            raise HarnessError(f"ModelTrainer's Compute(instance_type={self.instance_type!r}) "
                               "in sagemaker-local: local containers get no GPU or accelerator "
                               "from an instance type", LOCAL_TYPE_FIX)
        return original_train(self, *args, **kwargs)

    def checked_init(self, /, **data):
        try:
            original_init(self, **data)
        except ValidationError as e:
            if (data.get("training_mode") == Mode.LOCAL_CONTAINER
                    and "'training_image' or 'algorithm_name'" in str(e)):
                raise HarnessError(
                    "a ModelTrainer in sagemaker-local needs training_image: local mode runs "
                    "no SageMaker algorithm and picks no DLC",
                    "pass training_image=session.image_uri (harness's image) to ModelTrainer, "
                    "or an image of your own") from None
            raise

    _LocalContainer._create_docker_host = labelled
    _LocalContainer.train = checked_train
    ModelTrainer.__init__ = checked_init

    def undo() -> None:
        _LocalContainer._create_docker_host = original_host
        _LocalContainer.train = original_train
        ModelTrainer.__init__ = original_init

    return undo


# harness's own sagemaker-local jobs run on v3's `sagemaker.core.local`: v2's local mode moved,
# which needs what v2's does (`local_mode.py`).

def checkpoint_volume(host_dir: Path | None):
    from sagemaker.core.local import image as sdk_image

    return local_mode.checkpoint_volume(sdk_image, host_dir)


def allow_startup(startup_timeout_s: float) -> None:
    from sagemaker.core.local import entities

    local_mode.allow_startup(entities, startup_timeout_s)


def serving_port_bound(address: str):
    from sagemaker.core.local import image as sdk_image

    return local_mode.serving_port_bound(sdk_image, address)


def compose_found() -> None:
    from sagemaker.core.local import image as sdk_image

    local_mode.compose_found(sdk_image)


def containers_reach_host() -> None:
    from sagemaker.core.local import image as sdk_image

    local_mode.containers_reach_host(sdk_image)
