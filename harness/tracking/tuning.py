"""A tuning job as an MLflow parent run, each trial a child run (`mlflow.parentRunId`) with its
hyperparameter values and objective, the best one tagged, the leaderboard logged as a table.
Trials that ran as harness's own training commands (the emulated modes) logged their runs as
children while they ran (PARENT_ENV); the others (SageMaker's) are made from the job's
record."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from harness.config import JobConfig
from harness.errors import note
from harness.run_dir import TuningResult
from harness.tracking.client import Tracker, log
from harness.tracking.target import PARENT_ENV, target
from harness.tracking.training import JOB_TAG, PARENT_TAG, named, start_run

BEST_TAG = "harness.best_trial"
LEADERBOARD = "leaderboard.json"


@dataclass
class TuningRun:
    tracker: Tracker | None = None
    run_id: str | None = None

    @contextmanager
    def trials(self) -> Iterator[None]:
        """While the trials run: training commands started meanwhile log as its children."""
        if self.run_id is None:
            yield
            return
        before = os.environ.get(PARENT_ENV)
        os.environ[PARENT_ENV] = self.run_id
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(PARENT_ENV, None)
            else:
                os.environ[PARENT_ENV] = before

    def finish(self, result: TuningResult, tags: dict[str, str]) -> None:
        """Each trial's child (made where the trial logged none), the best tagged, the
        leaderboard as a table; `tags`: what a made child carries (the job's tags)."""
        tracker, run_id = self.tracker, self.run_id
        if tracker is None or run_id is None:
            return
        children = tracker.call("reading the trials", lambda: children_by_job(tracker, run_id))
        if children is None:
            return
        for trial in result.trials:
            if tracker.call("logging a trial", partial(log_trial, tracker, run_id, trial,
                                                       children, result, tags)) is None:
                return
        best = next((t for t in result.trials if t["training_job"] == result.best_training_job),
                    None)
        tracker.call("logging the leaderboard", lambda: log_leaderboard(
            tracker, run_id, result, best))
        tracker.call("ending the tuning run", lambda: tracker.client.set_terminated(
            run_id, "FINISHED" if best else "FAILED"))
        note(f"tracked: MLflow run {run_id} (tuning job {result.job_name}, "
             f"{len(result.trials)} trials as its children) in experiment "
             f"{tracker.target.experiment!r} at {tracker.target.uri}")

    def failed(self) -> None:
        if self.tracker is not None and self.run_id is not None:
            tracker, run_id = self.tracker, self.run_id
            tracker.call("ending the tuning run",
                         lambda: tracker.client.set_terminated(run_id, "FAILED"))


def log_trial(tracker: Tracker, parent: str, trial: dict, children: dict[str, str],
              result: TuningResult, tags: dict[str, str]) -> bool:
    """A trial's child run: the one it logged, else one made from its record (its values,
    its objective and its end)."""
    job = trial["training_job"] or f"{result.job_name}-trial-{trial['number']}"
    marks = {"harness.trial": str(trial["number"]), "harness.trial_status": trial["status"],
             **({BEST_TAG: "true"} if job == result.best_training_job else {})}
    child = children.get(job)
    if child is not None:
        log(tracker.client, child, tags=marks)
        return True
    child = tracker.client.create_run(tracker.experiment_id, run_name=job, tags={
        **tags, JOB_TAG: job, PARENT_TAG: parent}).info.run_id
    objective = trial["objective"]
    log(tracker.client, child,
        [] if objective is None else [(result.objective_metric_name, objective, 0, now())],
        params=named(trial["hyperparameters"]), tags=marks)
    tracker.client.set_terminated(child, status(trial["status"]))
    return True


def log_leaderboard(tracker: Tracker, run_id: str, result: TuningResult,
                    best: dict | None) -> None:
    names = sorted({k for t in result.trials for k in t["hyperparameters"]})
    table = {"trial": [t["number"] for t in result.trials],
             "status": [t["status"] for t in result.trials],
             result.objective_metric_name: [t["objective"] for t in result.trials],
             **{n: [t["hyperparameters"].get(n) for t in result.trials] for n in names},
             "training_job": [t["training_job"] for t in result.trials]}
    tracker.client.log_table(run_id, table, LEADERBOARD)
    tags = {"harness.tuning_job": result.job_name,
            "harness.objective": f"{result.objective_type} {result.objective_metric_name}"}
    if best is None:
        log(tracker.client, run_id, tags=tags)
        return
    log(tracker.client, run_id, [(result.objective_metric_name, best["objective"], 0, now())],
        tags={**tags, "harness.best_training_job": best["training_job"]})


def children_by_job(tracker: Tracker, run_id: str) -> dict[str, str]:
    """The runs the trials logged under the parent: training job name -> run id."""
    runs = tracker.client.search_runs([tracker.experiment_id],
                                      filter_string=f"tags.`{PARENT_TAG}` = '{run_id}'",
                                      max_results=1000)
    return {r.data.tags[JOB_TAG]: r.info.run_id for r in runs if JOB_TAG in r.data.tags}


def now() -> int:
    return int(time.time() * 1000)


def status(trial_status: str) -> str:
    return {"Completed": "FINISHED", "Stopped": "KILLED"}.get(trial_status, "FAILED")


def tuning_run(config: JobConfig, job_name: str, hyperparameters: dict[str, Any],
               tags: dict[str, str], fallback: str) -> TuningRun:
    """The tuning job's parent run, made now with the static hyperparameters as params."""
    found = target(config)
    if found is None:
        return TuningRun()
    tracker = Tracker(found, fallback)
    run_id = start_run(tracker, "starting the tuning run", job_name, tags, hyperparameters)
    return TuningRun(tracker, run_id)
