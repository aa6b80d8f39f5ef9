"""A training job as an MLflow run: made before the job starts (so the job can log into it
itself), filled from what harness read of the job once it ends: the hyperparameters as params,
where it ran as tags, every metric it reported with its step, the curves, the config and
model.tar.gz's location. The same in every mode, so MLflow's compare view lines modes up."""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.config import JobConfig
from harness.errors import note
from harness.tracking.client import Tracker, log
from harness.tracking.target import EXPERIMENT_ENV, PARENT_ENV, RUN_ENV, URI_ENV, Target, target

MODEL_TAG = "harness.model_artifact"
JOB_TAG = "harness.job_name"
MODE_TAG = "harness.mode"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: the UI nests the run under its parent
NOT_A_NAME = re.compile(r"[^\w\-. /:]")  # what MLflow refuses in a metric or param name


def job_tags(config: JobConfig, mode: str, instance_type: str, image: str,
             job_name: str) -> dict[str, str]:
    """Where the job ran and from what: the same keys in every mode."""
    tags = {MODE_TAG: mode, "harness.instance_type": instance_type, "harness.image": image,
            JOB_TAG: job_name, "harness.config_hash": config_hash(config)}
    commit = git_commit(config.source.parent)
    return {**tags, "mlflow.source.git.commit": commit} if commit else tags


def config_hash(config: JobConfig) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]


def git_commit(folder: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@dataclass
class TrainingRun:
    """One job's run; every method does nothing where tracking is off or has failed."""

    target: Target | None = None
    tracker: Tracker | None = None
    run_id: str | None = None

    def environment(self, uri_in_job: Callable[[str], str | None]) -> dict[str, str]:
        """MLflow's variables for the job, so a script that logs to MLflow itself (the
        Trainer's `report_to="mlflow"`) writes into this run. `uri_in_job`: the tracking URI
        as the job reaches it, None where it cannot (the mode's `tracking_uri_in_job`)."""
        uri = uri_in_job(self.target.uri) if self.target else None
        if self.target is None or uri is None:
            return {}
        env = {URI_ENV: uri, EXPERIMENT_ENV: self.target.experiment}
        return {**env, RUN_ENV: self.run_id} if self.run_id else env

    def finish(self, config: JobConfig, history: list[dict], logged: dict[str, list[float]],
               final: dict[str, Any], curves: str | None, model_artifact: str) -> None:
        """The job's metrics (`history`: the Trainer's log_history; `logged`: the metric
        definitions' values in log order; `final`: what the run dir records, which wins)."""
        tracker, run_id = self.tracker, self.run_id
        if tracker is None or run_id is None:
            return
        client = tracker.client
        tracker.call("logging metrics", lambda: log(
            client, run_id, metric_points(history, logged, final),
            tags={MODEL_TAG: model_artifact}))
        if self.target and self.target.artifacts:
            text = yaml.safe_dump(config.model_dump(mode="json", exclude_none=True),
                                  sort_keys=False)
            tracker.call("logging the config", lambda: client.log_text(run_id, text,
                                                                       "config.yaml"))
            tracker.call("logging the model's location", lambda: client.log_text(
                run_id, model_artifact + "\n", "model_location.txt"))
            if curves:
                tracker.call("logging the curves", lambda: client.log_artifact(run_id, curves))
        self.end("FINISHED")

    def end(self, status: str) -> None:
        tracker, run_id = self.tracker, self.run_id
        if tracker is not None and run_id is not None and tracker.call(
                "ending the run", lambda: client_end(tracker, run_id, status)):
            note(f"tracked: MLflow run {run_id} ({status.lower()}) in experiment "
                 f"{tracker.target.experiment!r} at {tracker.target.uri}")


def client_end(tracker: Tracker, run_id: str, status: str) -> bool:
    tracker.client.set_terminated(run_id, status)
    return True


def training_run(config: JobConfig, job_name: str, hyperparameters: dict[str, Any],
                 tags: dict[str, str], fallback: str) -> TrainingRun:
    """The job's run, made now with its params and tags; a child run where a tuning job
    runs this job as a trial (PARENT_ENV). `fallback`: where the metrics stay (the run dir)."""
    found = target(config)
    if found is None:
        return TrainingRun()
    tracker = Tracker(found, fallback)
    parent = os.environ.get(PARENT_ENV)
    tags = {**tags, PARENT_TAG: parent} if parent else tags
    run_id = start_run(tracker, "starting the run", job_name, tags, hyperparameters)
    return TrainingRun(found, tracker, run_id)


def start_run(tracker: Tracker, what: str, name: str, tags: dict[str, str],
              hyperparameters: dict[str, Any]) -> str | None:
    """A new run of the experiment with these tags and the hyperparameters as params; its id,
    or None where the tracker is off or refused it."""
    run = tracker.call(what, lambda: tracker.client.create_run(
        tracker.experiment_id, run_name=name, tags=tags))
    run_id = run.info.run_id if run is not None else None
    if run_id:
        tracker.call("logging params", lambda: log(tracker.client, run_id,
                                                   params=named(hyperparameters)))
    return run_id


def named(values: dict[str, Any]) -> dict[str, Any]:
    return {NOT_A_NAME.sub("_", key): value for key, value in values.items()}


def metric_points(history: list[dict], logged: dict[str, list[float]],
                  final: dict[str, Any]) -> list[tuple[str, float, int, int]]:
    """(name, value, step, timestamp): the Trainer's log_history at its steps; a metric
    definition's values the history lacks at steps 0, 1, ...; then each final value, where it
    is not already the last point, at the last step and a later timestamp, so MLflow reads it
    as the metric's latest value."""
    points: dict[str, list[tuple[float, int]]] = {}
    for entry in history:
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            if key != "step" and number(value):
                points.setdefault(key, []).append((float(value), step))
    for name, values in logged.items():
        if name not in points:
            points[name] = [(v, i) for i, v in enumerate(values) if number(v)]
    last_step = max((step for series in points.values() for _, step in series), default=0)
    now = int(time.time() * 1000)
    found = [(NOT_A_NAME.sub("_", name), value, step, now)
             for name, series in points.items() for value, step in series]
    for name, value in final.items():
        series = points.get(name)
        if number(value) and (not series or series[-1][0] != float(value)):
            found.append((NOT_A_NAME.sub("_", name), float(value), last_step, now + 1))
    return found


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
