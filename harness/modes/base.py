"""The one interface every mode implements. Steps call it; they never ask which mode runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from harness.checkpoints import Reclaim, with_restarts
from harness.config import JobConfig, ModeSettings
from harness.errors import HarnessError
from harness.run_dir import RunDir


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

    @abstractmethod
    def describe(self) -> dict[str, str]:
        """Where this mode runs: session, instances and images (what promotion changes)."""

    def cost_estimate(self) -> str | None:
        """What the run may cost, where it costs money; the CLI asks before spending it."""
        return None

    def dry_run(self, hyperparameters: dict[str, Any]) -> list[dict]:
        """The cloud API requests a run would make, without making them."""
        raise HarnessError(f"--dry-run prints real SageMaker's requests; {self.name!r} makes none",
                           "use --mode sagemaker --dry-run")

    @abstractmethod
    def save_dataset(self, dataset, channel: str) -> str:
        """Store a tokenized split where training reads it; return its URI."""

    @abstractmethod
    def upload_folder(self, folder: Path, channel: str) -> str:
        """Make a local folder (pretrained weights) available as an input channel."""

    @abstractmethod
    def train(self, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0) -> dict[str, str]:
        """Run train.py as a training job; return job_name, model_artifact, output_artifact.
        `interrupt_after` > 0 rehearses a spot reclaim after that many checkpoints."""

    def with_checkpoints(self, attempt: Callable[[Reclaim], None], folder: Path, job: str,
                         interrupt_after: int) -> None:
        """Run a training attempt with `folder` as its `/opt/ml/checkpoints`, synced to storage
        (`save_checkpoint` / `restore_checkpoints`), restarting it after a rehearsed reclaim."""
        if not self.config.checkpoints.enabled:
            if interrupt_after:
                raise HarnessError("a spot reclaim needs checkpoints to resume from",
                                   "set checkpoints.enabled: true (e.g. --set checkpoints.enabled=true)")
            return attempt(Reclaim(folder, 0))
        with_restarts(attempt, folder=folder, interrupt_after=interrupt_after,
                      restore=lambda local: self.restore_checkpoints(local, job),
                      save=lambda checkpoint: self.save_checkpoint(checkpoint, job))

    def save_checkpoint(self, checkpoint: Path, job: str) -> None:
        """Copy one complete checkpoint folder to `<job>/checkpoints/<its name>` in storage."""
        raise NotImplementedError

    def restore_checkpoints(self, folder: Path, job: str) -> None:
        """Fill an empty checkpoint folder from `<job>/checkpoints` in storage."""
        raise NotImplementedError

    @abstractmethod
    def download(self, uri: str, destination: Path) -> Path:
        """Copy an artifact to a local file."""

    @abstractmethod
    def deploy(self, model_artifact: str) -> dict[str, Any]:
        """Start an endpoint for the model; return what `predict` and `delete` need."""

    @abstractmethod
    def predict(self, endpoint: dict[str, Any], payload: Any) -> Any:
        """Send one request to the endpoint and return its decoded answer."""

    @abstractmethod
    def delete(self, endpoint: dict[str, Any]) -> None:
        """Stop the endpoint and free everything it held."""
