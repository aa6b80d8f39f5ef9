"""The one interface every mode implements. Steps call it; they never ask which mode runs.

What differs between modes is small: where data is stored (`storage`), how a training job
runs, and how an endpoint is started, called and stopped. Everything else (the layout of the
stored data, checkpoints, artifacts and failure files) is shared and lives outside the modes.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Generic, TypeVar

from harness import model_artifact, names
from harness.config import JobConfig, ModeSettings
from harness.errors import HarnessError, StepError, disk_full
from harness.host import invocations
from harness.run_dir import Endpoint, RunDir, TrainingResult, TransformResult, TuningResult
from harness.serving.user_code import PROGRAM_ENV, SUBMIT_DIRECTORY_ENV
from harness.storage import Storage

RETRAIN = "run `harness train` again to make a new one"  # the fix for a lost model artifact
FRAMEWORKS = ("transformers", "torch", "python")
UNKNOWN = "unknown"
SUBMITTED_CODE = "/opt/ml/model/code"  # where the SDK's repack puts source_dir, as it says


class TrainingFailed(StepError):
    """The training job ran and failed. Its `output.tar.gz` (with the toolkit's `failure`
    file), where the job got to write one, is at `storage.output_artifact(job_name)`."""

    def __init__(self, job_name: str, log_tail: str, log: Path | str,
                 exit_code: int | None = None):
        super().__init__(f"training job {job_name} failed", f"full log: {log}")
        self.job_name = job_name
        self.log_tail = log_tail
        self.log = log
        self.exit_code = exit_code  # the script's, where the mode knows it


@dataclass(frozen=True)
class SdkSession:
    """What the mode switch swaps in SageMaker SDK code: pass these to the SDK's estimators
    and models, and the same code runs in this mode. `close()` removes what SDK local mode
    left behind (its containers and network)."""

    sagemaker_session: Any
    instance_type: str
    inference_instance_type: str
    image_uri: str | None  # None: the SDK picks the DLC for the framework versions
    role: str
    default_bucket: str
    instance_count: int = 1
    # SDK v3's ModelTrainer(training_mode=...) and ModelBuilder(mode=...); None under v2.
    training_mode: Any = None
    serving_mode: Any = None
    close: Callable[[], None] = lambda: None

    def __enter__(self) -> SdkSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


SettingsT = TypeVar("SettingsT", bound=ModeSettings)


class Mode(ABC, Generic[SettingsT]):
    name: ClassVar[str]
    # Kinds of local input (`channels.PATH`, `channels.FILE_URI`) this mode's training reads
    # where they are; other local inputs are uploaded to its storage first.
    reads_in_place: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: JobConfig, run: RunDir):
        self.config = config
        self.run = run
        self.settings: SettingsT = config.modes.for_mode(self.name)  # type: ignore[assignment]

    @property
    def endpoint_name(self) -> str:
        return names.endpoint_name(self.config.name)

    def preflight(self, step: str) -> None:  # noqa: B027 - a mode adds its checks
        """Fail fast, before any work, when what `step` needs is not there."""

    def full_disk_hint(self) -> str:
        """What to do when a training job ran out of disk: here, the job writes in the run dir."""
        return (f"the disk that holds {self.run.path}: "
                f"{disk_full(self.run.path, self.run.path).hint}")

    @property
    @abstractmethod
    def storage(self) -> Storage:
        """Where this mode keeps channels, artifacts and checkpoints."""

    @abstractmethod
    def describe(self) -> dict[str, str]:
        """Where this mode runs: session, instances and images (what promotion changes)."""

    def framework_versions(self) -> dict[str, dict[str, str]]:
        """The frameworks of the images this mode trains and serves with:
        {"training" | "inference": {"transformers", "torch", "python": version}}."""
        unknown = dict.fromkeys(FRAMEWORKS, UNKNOWN)
        return {"training": unknown, "inference": unknown}

    def cost_estimate(self) -> str | None:
        """What the run may cost, where it costs money; the CLI asks before spending it."""
        return None

    def check_requirements(self, install: bool) -> None:  # noqa: B027 - nothing by default
        """`source_dir`'s requirements.txt, before training: a training container's toolkit
        installs it itself, so by default there is nothing to do."""

    def sdk_session(self) -> SdkSession:
        """The SDK session and settings of this mode, for SageMaker SDK code of the user's."""
        raise HarnessError(f"{self.name!r} mode runs no SageMaker SDK: it has no SDK session",
                           "use harness.session('sagemaker-local') to run SDK code against "
                           "containers and LocalStack, or harness.Job for this mode's flow")

    def dry_run(self, store: Callable[[Storage], dict[str, str]],
                hyperparameters: dict[str, Any],
                environment: dict[str, str] | None = None) -> list[dict]:
        """The cloud API requests a run would make, in order, without making them: `store`
        stores the job's channels into the storage it is given, as `prepare` and `train` do,
        and returns them (channel -> URI); its uploads are requests too
        ({service, operation, params}). `environment`: as `train` takes it."""
        raise self.no_requests()

    @abstractmethod
    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0,
              environment: dict[str, str] | None = None) -> TrainingResult:
        """Run the entry point as training job `job_name` on these channels, with
        `environment` added to the job's (the estimator's `environment`). Raise
        `TrainingFailed` if the script fails. `interrupt_after` > 0 rehearses a spot reclaim
        after that many checkpoints."""

    def training_image(self) -> str:
        """The image training jobs run in (here: none, this machine's Python)."""
        return "none (this machine's Python)"

    def tracking_uri_in_job(self, uri: str) -> str | None:
        """An MLflow tracking URI as a training job of this mode reaches it; None where the
        job cannot reach it (it is then not passed). Here the job runs on this machine."""
        return uri

    @abstractmethod
    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        """Start an endpoint for the model.tar.gz at `model_data` (a path here, or a URI),
        with the config's `inference` code and environment. `install_requirements`: where the
        endpoint runs in this Python environment, pip-install its requirements.txt rather than
        only check it."""

    @abstractmethod
    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        """Send one request to the endpoint and return its decoded answer."""

    def stream(self, endpoint: Endpoint, payload: Any) -> Iterator[bytes]:
        """Send one request through InvokeEndpointWithResponseStream (boto3, as a client
        would) and yield the answer's parts as they come. Here: an endpoint on this machine."""
        return invocations.stream(invocations.runtime_client(endpoint.url), endpoint.name,
                                  payload)

    @abstractmethod
    def delete(self, endpoint: Endpoint) -> None:
        """Stop the endpoint and free everything it held. Deleting one already gone is fine."""

    @abstractmethod
    def tune(self, job_name: str, channels: Callable[[], dict[str, str]],
             hyperparameters: dict[str, Any],
             announce: Callable[[str], None]) -> tuple[TuningResult, TrainingResult]:
        """Run tuning job `job_name` (the config's `tuning:`) on the channels `channels()`
        stages, with `hyperparameters` as the static ones; the job and its best training job."""

    @abstractmethod
    def transform(self, job_name: str, model_data: str) -> TransformResult:
        """Run batch transform job `job_name` (the config's `transform:`) on the model.tar.gz
        at `model_data`, writing each input file's `<file>.out`."""

    def transform_uri(self, location: str) -> str:
        """A transform's input or output location: an s3:// URI, or a path from the config."""
        return location if location.startswith("s3://") else str(self.config.resolve(location))

    def tune_requests(self, job_name: str, store: Callable[[Storage], dict[str, str]],
                      hyperparameters: dict[str, Any]) -> list[dict]:
        """The requests of tuning job `job_name`, made to no one (`store`: as in `dry_run`)."""
        raise self.no_requests()

    def transform_requests(self, job_name: str, model_data: str) -> list[dict]:
        """The requests of transform job `job_name` on `model_data`, made to no one."""
        raise self.no_requests()

    def no_requests(self) -> HarnessError:
        return HarnessError(f"--dry-run prints real SageMaker's requests; {self.name!r} makes "
                            "none", "use --mode sagemaker --dry-run")

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

    def storage_for(self, uri: str) -> Storage:
        """The storage that holds `uri`: this mode's, this mode's S3 for another s3:// URI,
        else the folder on this machine that a path from the config names."""
        if uri.startswith(self.storage.root):
            return self.storage
        if uri.startswith("s3://"):
            return self.s3_storage(uri)
        return Storage.local(Path(self.transform_uri(uri)))

    def s3_storage(self, uri: str) -> Storage:
        """The storage that holds an s3:// URI: this mode's S3."""
        return self.storage

    def open_artifact(self, uri: str) -> BinaryIO:
        """A model.tar.gz: in this mode's storage, in S3, or a file on this machine."""
        if not uri.startswith(("s3://", self.storage.root)):
            return open(uri, "rb")
        storage = self.storage_for(uri)
        if not storage.exists(uri):
            raise HarnessError(f"model data not found: {uri}",
                               "check the URI, or upload the model.tar.gz there first")
        return storage.open(uri)

    def check_model_data(self, model_data: str, remedy: str) -> None:
        """That the model.tar.gz to deploy is there and whole: a missing or damaged one is an
        error with `remedy` as its fix, before an endpoint waits for it."""
        with self.open_artifact(model_data) as source:
            model_artifact.check(source, model_data, remedy)

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
