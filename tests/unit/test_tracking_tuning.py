"""A tuning job whose trials logged no runs of their own (SageMaker's: they run in the cloud):
its parent run gets one child per trial from the job's record, on a real MLflow SQLite store."""

from __future__ import annotations

import pytest

from harness import tracking
from harness.config import load_config
from harness.run_dir import TuningResult
from tests.support.runs import DEFAULT_CONFIG
from tests.support.tracking import artifact_paths, runs

pytest.importorskip("mlflow")
TRIALS = [
    {"number": 1, "training_job": "job-001", "hyperparameters": {"learning_rate": 1e-5},
     "status": "Completed", "objective": 0.7},
    {"number": 2, "training_job": "job-002", "hyperparameters": {"learning_rate": 3e-5},
     "status": "Completed", "objective": 0.9},
    {"number": 3, "training_job": "job-003", "hyperparameters": {"learning_rate": 9e-5},
     "status": "Failed", "objective": None},
]


def test_trials_from_the_record_become_children_and_the_best_is_tagged(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlruns.db'}"
    config = load_config(DEFAULT_CONFIG, [f"run_dir={tmp_path}/run", f"tracking.uri={store}",
                                          "tracking.experiment=cloud-tuning"])
    tags = {"harness.mode": "sagemaker"}
    parent = tracking.tuning_run(config, "tune-1", {"epochs": 1}, tags, "the run dir")
    result = TuningResult("tune-1", "eval_accuracy", "Maximize", TRIALS, "job-002")
    parent.finish(result, tags)
    found = runs(store, "cloud-tuning")
    (top,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["harness.job_name"]: r for r in found
                if r.data.tags.get("mlflow.parentRunId") == top.info.run_id}
    assert set(children) == {"job-001", "job-002", "job-003"}
    assert children["job-002"].data.tags["harness.best_trial"] == "true"
    assert "harness.best_trial" not in children["job-001"].data.tags
    assert children["job-001"].data.metrics == {"eval_accuracy": 0.7}
    assert children["job-003"].data.metrics == {} and children["job-003"].info.status == "FAILED"
    assert children["job-002"].data.params == {"learning_rate": "3e-05"}
    assert children["job-002"].data.tags["harness.mode"] == "sagemaker"
    assert top.data.params == {"epochs": "1"} and top.info.status == "FINISHED"
    assert top.data.metrics == {"eval_accuracy": 0.9}
    assert top.data.tags["harness.best_training_job"] == "job-002"
    assert "leaderboard.json" in artifact_paths(store, top.info.run_id)
