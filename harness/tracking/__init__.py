"""Experiment tracking with MLflow, from this machine, in every mode: each training job an
MLflow run, each tuning job a parent run of its trials. Called where a step finishes (the
commands), never by a mode; it never fails a run (`client.Tracker`)."""

from harness.tracking.target import (
    EXPERIMENT_ENV,
    PARENT_ENV,
    RUN_ENV,
    URI_ENV,
    Target,
    target,
)
from harness.tracking.training import MODE_TAG, TrainingRun, job_tags, training_run
from harness.tracking.tuning import TuningRun, tuning_run

__all__ = ["EXPERIMENT_ENV", "MODE_TAG", "PARENT_ENV", "RUN_ENV", "URI_ENV", "Target", "TrainingRun",
           "TuningRun", "job_tags", "target", "training_run", "tuning_run"]
