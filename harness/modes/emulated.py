"""What the emulated modes (`local`, `sagemaker-local`) share: harness's own model server as
the endpoint, tuning by Optuna over this mode's training jobs, batch transform through that
server, and checkpoints synced to storage around a rehearsed spot reclaim."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import names, tuning
from harness.checkpoints import Reclaim, with_restarts
from harness.errors import HarnessError, StepError
from harness.host.endpoint_process import free_port
from harness.modes.base import Mode, SettingsT
from harness.run_dir import RunDir, TrainingResult, TransformResult, TuningResult
from harness.serving.handler import FRAMEWORK_ENV
from harness.serving.server import ENDPOINT_NAME_ENV
from harness.transform import batch


class EmulatedMode(Mode[SettingsT]):
    """A mode that emulates SageMaker on this machine."""

    def beside(self, folder: Path, name: str, **updates: Any) -> EmulatedMode:
        """This mode as another job `name` working in `folder` (its own logs, endpoint and
        containers) on this run's storage, e.g. a transform's model server beside the run's
        own endpoint. `updates`: config keys to change."""
        s3 = self.config.s3.model_copy(update={"prefix": self.config.s3_prefix})
        config = self.config.model_copy(update={"name": name, "run_dir": str(self.run.path),
                                                "s3": s3, **updates})
        return type(self)(config, RunDir(folder, self.name))

    def transform(self, job_name: str, model_data: str) -> TransformResult:
        """Here: this mode's endpoint (the same server and handler) serves the model, with
        SageMaker's batch environment, and `harness.transform.batch` sends it the records as
        SageMaker does."""
        spec = self.config.transform
        assert spec is not None, "the command checked for a transform: section"
        source = self.storage_for(spec.data)
        files = batch.inputs(source, self.transform_uri(spec.data))
        output = self.transform_uri(spec.output_path) if spec.output_path else \
            self.storage.uri(job_name)
        payload_bytes = spec.max_payload_mb * 1024 * 1024 or 2**31 - 1
        strategy = (spec.strategy or batch.DEFAULT_STRATEGY)
        environment = {"SAGEMAKER_BATCH": "true",
                       "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(spec.max_payload_mb),
                       "SAGEMAKER_BATCH_STRATEGY": names.env_strategy(strategy),
                       "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(spec.max_concurrent_transforms)}
        endpoint_settings = self.config.endpoint.model_copy(update={
            "port": free_port(), "max_body_bytes": payload_bytes,
            "request_timeout_s": batch.INVOCATION_TIMEOUT_S})
        inference = self.config.inference.model_copy(
            update={"env": {**self.config.inference.env, **environment}})
        server = self.beside(self.run.path / "transform", f"{self.config.name}-batch",
                             endpoint=endpoint_settings, inference=inference)
        endpoint = server.deploy(model_data)
        try:
            outcome = batch.BatchJob(endpoint.url, spec).run(
                files, source, self.storage_for(output), output)
        finally:
            server.delete(endpoint)
        if outcome.failed:
            failed = "\n".join(f"  {uri}: {reason}" for uri, reason in outcome.failed.items())
            written = f"; written: {', '.join(outcome.outputs)}" if outcome.outputs else ""
            raise StepError(f"transform job {job_name} failed for {len(outcome.failed)} of "
                            f"{len(files)} input files (no .out file for them):\n{failed}",
                            f"fix those records or the transform settings{written}")
        return TransformResult(job_name, output, outcome.outputs, outcome.records)

    def tune(self, job_name: str, channels: Callable[[], dict[str, str]],
             hyperparameters: dict[str, Any],
             announce: Callable[[str], None]) -> tuple[TuningResult, TrainingResult]:
        """Here: the search is Optuna's, and each trial is `harness train` in this mode, which
        stages the channels and hyperparameters itself (`harness.tuning`): nothing is staged
        for the tuning job."""
        return tuning.run(self.config, self.name, self.run, job_name, announce)

    def emulator_environment(self) -> dict[str, str]:
        """The serving environment for harness's own server (`local`, `sagemaker-local`): its
        limits, the framework's conventions and the endpoint name it answers to, too."""
        return {**self.serving_environment(), **self.config.endpoint.limits.to_env(),
                FRAMEWORK_ENV: self.config.framework, ENDPOINT_NAME_ENV: self.endpoint_name}

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
                      save=lambda checkpoint: self.storage.put(
                          checkpoint, f"{stored}/{checkpoint.name}"))
