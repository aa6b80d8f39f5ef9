"""What harness asks of the SageMaker SDK, whichever major is installed (`harness.sdk.adapter()`).

Modes, commands and the pytest plugin call these; only `v2.py` and `v3.py` import `sagemaker`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol


class SdkAdapter(Protocol):
    MAJOR: int

    def session(self, boto_session, default_bucket: str, sagemaker_config: dict,
                sagemaker_client=None) -> Any:
        """The SDK's Session on `boto_session` (a recording one included)."""

    def local_session(self, boto_session, s3_url: str, bucket: str, container_root: Path,
                      serving_port: int, local_code: bool, labels: dict[str, str]) -> Any:
        """A LocalSession on the S3 at `s3_url`, telemetry off, its containers labelled."""

    def user_code_local(self, labels: dict[str, str]) -> Callable[[], None]:
        """Until the returned undo, the user's SDK code on a local session runs as harness's
        does: the training containers it starts get `labels`, what local mode cannot run is a
        HarnessError with its fix, and (v3) its ModelBuilder serves through the session."""

    def user_config(self) -> dict[str, Any]:
        """The user's SDK config files (their defaults), as the SDK loads them."""

    def image_uris(self) -> ModuleType:
        """The SDK's image-URI module: `retrieve`, `config_for_framework`."""

    def swapped(self, local: bool, region: str) -> dict[str, Any]:
        """What this major's SDK code swaps besides the session and instances: its training and
        serving modes (none under v2, whose estimators and models take instance types)."""

    def estimator_class(self, framework: str) -> type:
        """The estimator of `framework` (huggingface, pytorch): v2's own; under v3, which has
        none, `v3_jobs.FrameworkEstimator`, which sends the same CreateTrainingJob."""

    def serving_model(self, framework: str, *, framework_version: str, py_version: str,
                      **arguments) -> Any:
        """The Model of `framework` that both SageMaker modes deploy (`deploy`, `transformer`):
        v2's own; under v3 `v3_jobs.FrameworkModel`."""

    def predictor(self, endpoint_name: str, session, serializer_json: bool = False,
                  deserializer=None) -> Any:
        """A predictor of the endpoint `endpoint_name` (`predict`), JSON in."""

    def hyperparameter_tuner(self, estimator, objective_metric_name: str,
                             ranges: dict[str, dict[str, Any]], **arguments) -> Any:
        """A HyperparameterTuner (`fit`, `wait`, `max_jobs`): v2's; under v3, whose tuner takes
        a ModelTrainer, `v3_jobs.HyperparameterTuner`. `ranges`: name -> {type, values |
        min_value, max_value, scaling_type}."""

    def unexpected_status(self) -> type[Exception]:
        """The exception the SDK raises when a job or endpoint ends Failed or Stopped."""

    def notebook_role(self, session) -> str | None:
        """The execution role, inside SageMaker (notebooks, Studio); None elsewhere."""

    def checkpoint_volume(self, host_dir: Path | None) -> contextlib.AbstractContextManager:
        """Local training containers get `host_dir` at /opt/ml/checkpoints."""

    def allow_startup(self, startup_timeout_s: float) -> None:
        """Local endpoints may take `startup_timeout_s` to answer /ping."""

    def serving_port_bound(self, address: str) -> contextlib.AbstractContextManager:
        """Local endpoints publish their port on `address` only."""
