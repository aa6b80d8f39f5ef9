"""The SageMaker SDK port: the installed major (detected once) and its adapter
(`adapter()`), the settings the SageMaker modes share, and the recording session of dry runs.

A recording session records every AWS request and answers it itself: nothing leaves the
machine and no credentials are needed, yet the requests are the ones the SDK would send.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import signal
import warnings
from importlib import metadata
from typing import Any

from harness.errors import HarnessError
from harness.sdk.port import SdkAdapter

TELEMETRY_OFF = {"SchemaVersion": "1.0",
                 "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
ACCOUNT = "123456789012"
# Every SageMaker job starts train.py through torchrun on each instance, one process per GPU
# (one on a CPU instance): the same launcher whether it runs on 1 or N instances, 1 or 8 GPUs.
DISTRIBUTION = {"torch_distributed": {"enabled": True}}
# The SDK releases harness runs on, by major: (lowest, first unsupported) as (major, minor).
SUPPORTED = {2: ((2, 257), (2, 258)), 3: ((3, 27), (4, 0))}
SUPPORTED_TEXT = "sagemaker 2.257.x or >=3.27,<4"


def supported(version: str) -> bool:
    major_minor = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    low, high = SUPPORTED.get(major_minor[0] if major_minor else 0, ((1, 0), (1, 0)))
    return low <= major_minor < high


@functools.cache
def major() -> int:
    """The installed SDK's major version, read once from its metadata (the SDK not imported)."""
    try:
        version = metadata.version("sagemaker")
    except metadata.PackageNotFoundError:
        raise HarnessError("the SageMaker Python SDK is not installed",
                           "pip install 'sagemaker>=3.27,<4'") from None
    if not supported(version):
        raise HarnessError(f"sagemaker {version} is installed; harness runs on {SUPPORTED_TEXT}",
                           "pip install 'sagemaker>=3.27,<4' (or 'sagemaker[local]==2.257.7' "
                           "for code written for SDK v2)")
    return int(version.split(".")[0])


def adapter() -> SdkAdapter:
    """The port's adapter for the installed SDK major (`harness/sdk/v2.py`, `v3.py`)."""
    quiet_sdk()
    return importlib.import_module(f"harness.sdk.v{major()}")


def user_config() -> dict[str, Any]:
    """The user's SageMaker SDK defaults (its config.yaml files: VPC, KMS keys, tags, ...), with
    telemetry off unless they turn it on there."""
    config = adapter().user_config()
    modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {}).setdefault(
        "Modules", {})
    modules.setdefault("TelemetryOptOut", True)
    config.setdefault("SchemaVersion", "1.0")
    return config


@contextlib.contextmanager
def interrupts_kept():
    """Raise KeyboardInterrupt after a Ctrl-C even when the SDK returns normally: `fit` swallows
    it (its telemetry wrapper returns from a `finally`), and local mode counts docker-compose's
    exit code 130 (its own Ctrl-C) as a successful job."""
    seen = []

    def interrupted(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt


def quiet_sdk() -> None:
    """Before the SDK is imported: no warning that v3 exists (v2 is the SDK with local mode),
    none of the SDK's warnings about itself, and no "Not applying SDK defaults" lines on
    stdout, where `harness predict` prints JSON."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    for config_logger in ("sagemaker.config", "sagemaker.core.config"):  # v2, v3
        logging.getLogger(config_logger).setLevel(logging.WARNING)
    ignore_sdk_warnings()


def ignore_sdk_warnings() -> None:
    """Ignore the DeprecationWarnings and FutureWarnings the SDK's own code raises (v3 imports
    its own moved modules: `sagemaker.train.configs`, `sagemaker.core.base_serializers`, ...);
    those the user's code causes stay. Filters are process-wide: call it again inside a
    `warnings.catch_warnings()` (pytest's, per test)."""
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"sagemaker(\.|$)")


class _Answer:
    status_code = 200
    headers: dict = {}
    content = b""


def _answers(bucket: str, region: str) -> dict[str, dict]:
    arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}"
    return {
        "GetCallerIdentity": {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/dry-run",
                              "UserId": "dry-run"},
        "ListBuckets": {"Buckets": [{"Name": bucket}]},
        "CreateTrainingJob": {"TrainingJobArn": f"{arn}:training-job/dry-run"},
        "CreateModel": {"ModelArn": f"{arn}:model/dry-run"},
        "CreateEndpointConfig": {"EndpointConfigArn": f"{arn}:endpoint-config/dry-run"},
        "CreateEndpoint": {"EndpointArn": f"{arn}:endpoint/dry-run"},
        "CreateHyperParameterTuningJob": {
            "HyperParameterTuningJobArn": f"{arn}:hyper-parameter-tuning-job/dry-run"},
        "CreateTransformJob": {"TransformJobArn": f"{arn}:transform-job/dry-run"},
    }


def recording_session(region: str, bucket: str, sagemaker_client=None):
    """(sagemaker.Session, the list it records {service, operation, params} into).

    `sagemaker_client`, when given (a Stubber's, in tests), answers the SageMaker API instead.
    """
    import boto3

    calls: list[dict[str, Any]] = []
    answers = _answers(bucket, region)
    boto = boto3.Session(aws_access_key_id="dry-run", aws_secret_access_key="dry-run",
                         region_name=region)

    def record(params, model, **_):
        calls.append({"service": model.service_model.service_name, "operation": model.name,
                      "params": params})

    boto.events.register("provide-client-params.*.*", record)
    boto.events.register("before-call.*.*", lambda model, **_: (_Answer(), answers.get(model.name, {})))
    session = adapter().session(boto, bucket, TELEMETRY_OFF, sagemaker_client=sagemaker_client)
    return session, calls


def estimator_arguments(config, settings, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The estimator arguments both SageMaker modes share: what promotion keeps.
    `output_path` is the root of both modes' storage."""
    return {"entry_point": config.entry_point,
            "source_dir": str(config.resolve(config.source_dir)),
            "hyperparameters": hyperparameters, "output_path": config.s3_root,
            "instance_type": settings.instance_type, "instance_count": settings.instance_count,
            "distribution": DISTRIBUTION,
            "metric_definitions": [d.model_dump() for d in config.metric_definitions] or None,
            # SageMaker's metric time series: the SDK turns them on for HuggingFace, and for
            # PyTorch only when it knows the framework version, which an explicit image hides.
            "enable_sagemaker_metrics": True}
