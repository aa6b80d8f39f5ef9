"""The one interface every mode implements. Steps call it; they never ask which mode runs.

What differs between modes is small: where data is stored (`storage`), how a training job
runs, and how an endpoint is started, called and stopped. Everything else (the layout of the
stored data, checkpoints, artifacts and failure files) is shared and lives outside the modes.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from harness import model_artifact
from harness.checkpoints import Reclaim, with_restarts
from harness.config import JobConfig, ModeSettings
from harness.errors import HarnessError, StepError
from harness.run_dir import Endpoint, Prepared, RunDir, TrainingResult
from harness.serving.handler import FRAMEWORK_ENV
from harness.serving.server import ENDPOINT_NAME_ENV
from harness.serving.user_code import PROGRAM_ENV, SUBMIT_DIRECTORY_ENV
from harness.storage import Storage

SUBMITTED_CODE = "/opt/ml/model/code"  # where the SDK's repack puts source_dir, as it says


class TrainingFailed(StepError):
    """The training job ran and failed. Its `output.tar.gz` (with the toolkit's `failure`
    file), where the job got to write one, is at `storage.output_artifact(job_name)`."""

    def __init__(self, job_name: str, log_tail: str, log: Path | str):
        super().__init__(f"training job {job_name} failed", f"full log: {log}")
        self.job_name = job_name
        self.log_tail = log_tail
        self.log = log


class Mode(ABC):
    name: ClassVar[str]

    def __init__(self, config: JobConfig, run: RunDir):
        self.config = config
        self.run = run
        self.settings: ModeSettings = config.modes.for_mode(self.name)

    @property
    def endpoint_name(self) -> str:
        return f"{self.config.name}-endpoint"

    def preflight(self, step: str) -> None:
        """Fail fast, before any work, when what `step` needs is not there."""

    @property
    @abstractmethod
    def storage(self) -> Storage:
        """Where this mode keeps channels, artifacts and checkpoints."""

    @abstractmethod
    def describe(self) -> dict[str, str]:
        """Where this mode runs: session, instances and images (what promotion changes)."""

    def cost_estimate(self) -> str | None:
        """What the run may cost, where it costs money; the CLI asks before spending it."""
        return None

    def dry_run(self, prepared: Prepared | None, hyperparameters: dict[str, Any]) -> list[dict]:
        """The cloud API requests a run would make, without making them, on the channels
        `prepare` stored (or would store, when it has not run)."""
        raise HarnessError(f"--dry-run prints real SageMaker's requests; {self.name!r} makes none",
                           "use --mode sagemaker --dry-run")

    @abstractmethod
    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0) -> TrainingResult:
        """Run the entry point as training job `job_name` on these channels. Raise
        `TrainingFailed` if the script fails. `interrupt_after` > 0 rehearses a spot reclaim
        after that many checkpoints."""

    @abstractmethod
    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        """Start an endpoint for the model.tar.gz at `model_data` (a path here, or a URI),
        with the config's `inference` code and environment. `install_requirements`: where the
        endpoint runs in this Python environment, pip-install its requirements.txt rather than
        only check it."""

    @abstractmethod
    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        """Send one request to the endpoint and return its decoded answer."""

    @abstractmethod
    def delete(self, endpoint: Endpoint) -> None:
        """Stop the endpoint and free everything it held. Deleting one already gone is fine."""

    def serving_environment(self) -> dict[str, str]:
        """The serving container's environment, as SageMaker's Model gets it in every mode:
        `inference.env`, and what the SDK sets for an entry point and its source_dir."""
        inference = self.config.inference
        env = dict(inference.env)
        if inference.entry_point:
            env[PROGRAM_ENV] = inference.entry_point
        if inference.source_dir:
            env[SUBMIT_DIRECTORY_ENV] = SUBMITTED_CODE
        return env

    def emulator_environment(self) -> dict[str, str]:
        """The serving environment for harness's own server (`local`, `sagemaker-local`): its
        limits, the framework's conventions and the endpoint name it answers to, too."""
        return {**self.serving_environment(), **self.config.endpoint.limits.to_env(),
                FRAMEWORK_ENV: self.config.framework, ENDPOINT_NAME_ENV: self.endpoint_name}

    def s3_storage(self, uri: str) -> Storage:
        """The storage that holds an s3:// URI: this mode's S3."""
        return self.storage

    def open_artifact(self, uri: str) -> BinaryIO:
        """A model.tar.gz: a file on this machine, or an object in S3."""
        if not uri.startswith("s3://"):
            return open(uri, "rb")
        storage = self.s3_storage(uri)
        if not storage.exists(uri):
            raise HarnessError(f"model data not found: {uri}",
                               "check the URI, or upload the model.tar.gz there first")
        return storage.open(uri)

    def serving_model_uri(self, model_data: str) -> str:
        """Where a SageMaker mode's endpoint reads the model from: `model_data` when it is in
        S3 and no code is added, else the endpoint's own copy in storage."""
        if model_data.startswith("s3://") and self.config.inference_code() is None:
            return model_data
        return self.storage.serving_model(self.endpoint_name)

    def stage_model(self, model_data: str) -> str:
        """`serving_model_uri(model_data)`, filled: the model uploaded, `inference.source_dir`
        added as its code/ (as the SDK repacks it)."""
        target = self.serving_model_uri(model_data)
        code = self.config.inference_code()
        if target == model_data:
            return target
        with self.open_artifact(model_data) as source, self.storage.open(target, "wb") as out:
            if code is None:
                shutil.copyfileobj(source, out)
            else:
                model_artifact.repack(source, out, code, model_data)
        return target

    def trained(self, job_name: str) -> TrainingResult:
        return TrainingResult(job_name, self.storage.model_artifact(job_name),
                              self.storage.output_artifact(job_name))

    def with_checkpoints(self, attempt: Callable[[Reclaim], None], folder: Path, job: str,
                         interrupt_after: int) -> None:
        """Run a training attempt with `folder` as its `/opt/ml/checkpoints`, synced to
        `storage.checkpoints(job)`, restarting it after a rehearsed reclaim."""
        if not self.config.checkpoints.enabled:
            if interrupt_after:
                raise HarnessError("a spot reclaim needs checkpoints to resume from",
                                   "set checkpoints.enabled: true (e.g. --set checkpoints.enabled=true)")
            return attempt(Reclaim(folder, 0))
        stored = self.storage.checkpoints(job)
        with_restarts(attempt, folder=folder, interrupt_after=interrupt_after,
                      restore=lambda local: self.storage.get_folder(stored, local),
                      save=lambda checkpoint: self.storage.put_folder(
                          checkpoint, f"{stored}/{checkpoint.name}"))
