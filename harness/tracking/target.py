"""Where runs are tracked: `tracking.uri`, else MLflow's own MLFLOW_TRACKING_URI, else a
SQLite store beside the run dirs (`<run dir's parent>/mlruns.db`; MLflow 3 deprecates its
file store)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.config import JobConfig, TrackingConfig
from harness.config.schema import URI_SCHEME

URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
RUN_ENV = "MLFLOW_RUN_ID"  # MLflow's fluent API resumes this run (the Trainer's report_to too)
PARENT_ENV = "HARNESS_TRACKING_PARENT_RUN_ID"  # a tuning job's run: its trials are its children
STORE = "mlruns.db"
ARTIFACTS = "mlartifacts"  # beside a SQLite store: where its experiments keep artifacts


@dataclass(frozen=True)
class Target:
    uri: str
    experiment: str
    artifacts: bool  # log training_curves.png, the config and model.tar.gz's location

    @property
    def is_arn(self) -> bool:
        """A SageMaker managed MLflow server: the sagemaker-mlflow plugin resolves it."""
        return self.uri.startswith("arn:")

    @property
    def is_http(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    @property
    def artifact_location(self) -> str | None:
        """Where a new experiment of a SQLite store keeps its artifacts: beside the database,
        not in the working directory (MLflow's default)."""
        if not self.uri.startswith("sqlite:///"):
            return None
        return (Path(self.uri.removeprefix("sqlite:///")).resolve().parent / ARTIFACTS).as_uri()


def target(config: JobConfig) -> Target | None:
    """The tracking target of this config, or None when tracking is off: on with a
    `tracking:` section (unless `enabled: false`), or without one where MLFLOW_TRACKING_URI
    is set."""
    section, from_env = config.tracking, os.environ.get(URI_ENV)
    if (section is None and not from_env) or (section is not None and not section.enabled):
        return None
    section = section or TrackingConfig()
    if section.uri:
        uri = section.uri
        if not uri.startswith("arn:") and not URI_SCHEME.match(uri):  # a path, from the config
            uri = str(config.resolve(uri))
    else:
        uri = from_env or f"sqlite:///{config.run_path.resolve().parent / STORE}"
    experiment = section.experiment or os.environ.get(EXPERIMENT_ENV) or config.name
    return Target(uri, experiment, section.artifacts)
