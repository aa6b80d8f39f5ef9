"""The port on SageMaker Python SDK v2 (2.257.x): estimators, models and local mode."""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path
from typing import Any

from harness.sdk import patches_v2

MAJOR = 2
# The estimator of each `framework`, and the family of its DLCs in the SDK's image-URI tables.
ESTIMATORS = {"huggingface": "sagemaker.huggingface:HuggingFace",
              "pytorch": "sagemaker.pytorch:PyTorch"}

checkpoint_volume = patches_v2.checkpoint_volume
allow_startup = patches_v2.allow_startup
serving_port_bound = patches_v2.serving_port_bound


def session(boto_session, default_bucket: str, sagemaker_config: dict, sagemaker_client=None):
    import sagemaker

    return sagemaker.Session(boto_session=boto_session, default_bucket=default_bucket,
                             sagemaker_client=sagemaker_client, sagemaker_config=sagemaker_config)


def local_session(boto_session, s3_url: str, bucket: str, container_root: Path,
                  serving_port: int, local_code: bool, labels: dict[str, str]):
    from sagemaker.local import LocalSession
    from sagemaker.session_settings import SessionSettings

    from harness.sdk import TELEMETRY_OFF
    from harness.sdk.patches_v2 import compose_found, containers_reach_host

    compose_found()  # SDK v2 takes `docker compose` only when its version says "v2"
    containers_reach_host()  # as host.docker.internal, on Linux and Docker Desktop alike
    session = LocalSession(boto_session=boto_session, s3_endpoint_url=s3_url,
                           default_bucket=bucket, disable_local_code=False,
                           sagemaker_config=TELEMETRY_OFF)
    # The SDK stores code it uploads with SSE-KMS; LocalStack runs no KMS (S3, STS, IAM only).
    session.settings = SessionSettings(encrypt_repacked_artifacts=False)
    session.config = {"local": {"local_code": local_code, "container_root": str(container_root),
                                "serving_port": serving_port,
                                "container_config": {"labels": labels}}}
    return session


def user_code_local(labels: dict[str, str]):
    return lambda: None  # local_session's container_config labels every container


def user_config() -> dict[str, Any]:
    from sagemaker.config import load_sagemaker_config

    return load_sagemaker_config() or {}


def image_uris():
    from sagemaker import image_uris

    return image_uris


def swapped(local: bool, region: str) -> dict[str, Any]:
    return {}  # v2's estimators and models take the instance types themselves


def estimator_class(framework: str) -> type:
    module, _, name = ESTIMATORS[framework].partition(":")
    return getattr(importlib.import_module(module), name)


def serving_model(framework: str, *, framework_version: str, py_version: str, **arguments):
    """harness has put the inference code into model_data already (as the SDK's repack would),
    so the SDK gets no entry_point."""
    if framework == "pytorch":
        from sagemaker.pytorch import PyTorchModel

        return PyTorchModel(framework_version=framework_version, py_version=py_version,
                            **arguments)
    from sagemaker.huggingface import HuggingFaceModel

    return HuggingFaceModel(**arguments)


def predictor(endpoint_name: str, session, serializer_json: bool = False, deserializer=None):
    from sagemaker.huggingface import HuggingFacePredictor
    from sagemaker.serializers import JSONSerializer

    arguments = {"serializer": JSONSerializer()} if serializer_json else {}
    if deserializer is not None:
        arguments["deserializer"] = deserializer
    return HuggingFacePredictor(endpoint_name, sagemaker_session=session, **arguments)


def hyperparameter_tuner(estimator, objective_metric_name: str,
                         ranges: dict[str, dict[str, Any]], **arguments):
    from sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
    )

    parameters = {}
    for name, r in ranges.items():
        if r["type"] == "categorical":
            parameters[name] = CategoricalParameter(r["values"])
        elif r["type"] == "integer":
            parameters[name] = IntegerParameter(int(r["min_value"]), int(r["max_value"]),
                                                scaling_type=r["scaling_type"])
        else:
            parameters[name] = ContinuousParameter(r["min_value"], r["max_value"],
                                                   scaling_type=r["scaling_type"])
    return HyperparameterTuner(estimator, objective_metric_name, parameters, **arguments)


def unexpected_status() -> type[Exception]:
    from sagemaker.exceptions import UnexpectedStatusException

    return UnexpectedStatusException


def notebook_role(session) -> str | None:
    import sagemaker
    from sagemaker.session import NOTEBOOK_METADATA_FILE

    if os.path.exists(NOTEBOOK_METADATA_FILE):
        with contextlib.suppress(Exception):
            return sagemaker.get_execution_role(session)
    return None
