"""harness from Python: a mode's SageMaker SDK session for SDK code of your own, and a job that
runs the CLI's steps (`harness.commands`). Errors are `HarnessError`s that carry their fix;
nothing here exits the process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.job import Job as Context
from harness.job import open_job
from harness.modes.base import SdkSession
from harness.run_dir import Endpoint, TrainingResult

Overrides = Sequence[str] | Mapping[str, Any] | None


def session(mode: str, config: str | Path | None = None,
            overrides: Overrides = None) -> SdkSession:
    """What `mode` swaps in SDK code: `.sagemaker_session`, `.instance_type`,
    `.inference_instance_type`, `.image_uri`, `.role`, `.default_bucket`. `config` (a YAML
    file; None: the defaults) gives the bucket, instance types and endpoint port."""
    return open_job(config, overrides or (), mode).mode.sdk_session()


class Job:
    """One config in one mode, step by step as the CLI runs it:

        job = harness.Job.from_config("configs/default.yaml", mode="local")
        job.prepare(); job.train()
        predictor = job.deploy()
        predictor.predict({"inputs": "I love it"})
        predictor.delete()
    """

    def __init__(self, context: Context):
        self.context = context

    @classmethod
    def from_config(cls, path: str | Path | None, mode: str | None = None,
                    overrides: Overrides = None) -> Job:
        """`overrides`: config keys to values, e.g. {"hyperparameters.epochs": 1}. `mode`:
        local, sagemaker-local or sagemaker (default: $HARNESS_MODE, else local)."""
        return cls(open_job(path, overrides or (), mode))

    @property
    def config(self):
        return self.context.config

    @property
    def mode(self) -> str:
        return self.context.mode.name

    @property
    def state(self) -> dict:
        """The run's state.json: what each step recorded."""
        return self.context.run.load()

    @property
    def metrics(self) -> dict:
        return self.state.get("metrics") or {}

    @property
    def model_data(self) -> str:
        """The trained model's model.tar.gz."""
        return self.context.run.require(TrainingResult).model_artifact

    def prepare(self):
        from harness.commands.prepare import prepare

        with self.context.run.lock():
            return prepare(self.context)

    def train(self, install_requirements: bool = False) -> dict:
        """Run the training job; its metrics. In `sagemaker` mode this starts a paid job."""
        from harness.commands.train import train

        with self.context.run.lock():
            train(self.context, install_requirements=install_requirements)
        return self.metrics

    def deploy(self) -> Predictor:
        """Start an endpoint for the trained model. In `sagemaker` mode it costs money while it
        is up: `delete()` it."""
        from harness.commands.deploy import deploy

        with self.context.run.lock():
            return Predictor(self.context, deploy(self.context))

    def tune(self) -> dict:
        """A tuning job over the config's `tuning:`; the best training job becomes the
        trained model (`deploy()` serves it). Its record: trials, best job, leaderboard."""
        from harness.commands.tune import tune

        with self.context.run.lock():
            tune(self.context, announce=lambda line: None)
        return self.state["tuning"]

    def transform(self, model_data: str | None = None) -> dict:
        """A batch transform job over the config's `transform:`; its record (the `.out`
        files). `model_data`: a model.tar.gz instead of the trained model."""
        from harness.commands.transform import transform

        with self.context.run.lock():
            transform(self.context, model_data)
        return self.state["transform"]

    def run(self, install_requirements: bool = False) -> dict:
        """The whole flow, as `harness run`; the run's state."""
        from harness.commands.run import run

        with self.context.run.lock():
            return run(self.context, announce=lambda step: None,
                       install_requirements=install_requirements)

    def summary(self) -> str:
        return self.context.summary()


class Predictor:
    """A deployed endpoint: `predict(payload)`, then `delete()` (or use it in a `with`)."""

    def __init__(self, context: Context, endpoint: Endpoint):
        self.context = context
        self.endpoint = endpoint

    def predict(self, payload: Any) -> Any:
        from harness.commands.predict import predict

        return predict(self.context, payload)

    def delete(self) -> None:
        from harness.commands.delete import delete

        with self.context.run.lock():
            delete(self.context)

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.delete()
