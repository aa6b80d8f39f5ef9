"""The port on SageMaker Python SDK v3 (3.27+): `sagemaker.core` sessions and image tables,
`ModelTrainer` and `ModelBuilder` for user code.

v3 has no estimators or `Model` classes: harness's own train, deploy, predict, tune and
transform send the requests v2's would (`v3_jobs.py`) through v3's sessions and local mode.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from harness.sdk import patches_v3, v3_jobs

MAJOR = 3


def session(boto_session, default_bucket: str, sagemaker_config: dict, sagemaker_client=None):
    from sagemaker.core.helper.session_helper import Session

    return Session(boto_session=boto_session, default_bucket=default_bucket,
                   sagemaker_client=sagemaker_client, sagemaker_config=sagemaker_config)


def local_session(boto_session, s3_url: str, bucket: str, container_root: Path,
                  serving_port: int, local_code: bool, labels: dict[str, str]):
    """v3's ModelTrainer takes the containers' S3_ENDPOINT_URL from this session's S3 client,
    so `s3_url` must be one that containers reach too."""
    from sagemaker.core.local.local_session import LocalSession
    from sagemaker.core.session_settings import SessionSettings

    from harness.sdk import TELEMETRY_OFF

    patches_v3.compose_found()
    patches_v3.containers_reach_host()  # as host.docker.internal, as under v2
    session = LocalSession(boto_session=patches_v3.s3_on(boto_session, s3_url),
                           s3_endpoint_url=s3_url, default_bucket=bucket, disable_local_code=False,
                           sagemaker_config=TELEMETRY_OFF)
    session.settings = SessionSettings(encrypt_repacked_artifacts=False)  # LocalStack has no KMS
    session.config = {"local": {"local_code": local_code, "container_root": str(container_root),
                                "serving_port": serving_port,
                                "container_config": {"labels": labels}}}
    return session


def user_code_local(labels: dict[str, str]):
    undo_training = patches_v3.local_training(labels)
    undo_serving = patches_v3.model_builder_local()

    def undo() -> None:
        undo_serving()
        undo_training()

    return undo


def user_config() -> dict[str, Any]:
    from sagemaker.core.config.config import load_sagemaker_config

    return load_sagemaker_config() or {}


def image_uris():
    from sagemaker.core import image_uris

    return image_uris


def swapped(local: bool, region: str) -> dict[str, Any]:
    """`ModelTrainer(training_mode=...)` and `ModelBuilder(mode=...)` values of this mode.
    Importing `sagemaker.serve` makes boto3 clients (sagemaker/ai_registry/air_hub.py), which
    fail without a region: the session's region stays the default for the user's imports."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from sagemaker.serve.mode.function_pointers import Mode as ServingMode
    from sagemaker.train.model_trainer import Mode as TrainingMode

    return {"training_mode": TrainingMode.LOCAL_CONTAINER if local
            else TrainingMode.SAGEMAKER_TRAINING_JOB,
            "serving_mode": ServingMode.LOCAL_CONTAINER if local
            else ServingMode.SAGEMAKER_ENDPOINT}


def estimator_class(framework: str) -> type:
    return v3_jobs.FrameworkEstimator  # the same request for both frameworks (their images differ)


def serving_model(framework: str, *, framework_version: str, py_version: str, **arguments):
    return v3_jobs.FrameworkModel(**arguments)


def predictor(endpoint_name: str, session, serializer_json: bool = False, deserializer=None):
    return v3_jobs.Predictor(endpoint_name, session, deserializer)  # JSON in, whichever


def hyperparameter_tuner(estimator, objective_metric_name: str,
                         ranges: dict[str, dict[str, Any]], **arguments):
    return v3_jobs.HyperparameterTuner(estimator, objective_metric_name, ranges, **arguments)


def unexpected_status() -> type[Exception]:
    from sagemaker.core.exceptions import UnexpectedStatusException

    return UnexpectedStatusException


def notebook_role(session) -> str | None:
    from sagemaker.core.helper.session_helper import NOTEBOOK_METADATA_FILE, get_execution_role

    if os.path.exists(NOTEBOOK_METADATA_FILE):
        with contextlib.suppress(Exception):
            return get_execution_role(session)
    return None


checkpoint_volume = patches_v3.checkpoint_volume
allow_startup = patches_v3.allow_startup
serving_port_bound = patches_v3.serving_port_bound
