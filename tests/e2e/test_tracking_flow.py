"""The default config trained in `local` and in `sagemaker-local` against the MLflow server
`harness tracker up` starts, both runs read back with MLflow's client and lined up; and a small
tuning job as one parent run with its children."""

from __future__ import annotations

import json
import time

import pytest

from harness.pytest_plugin import require_docker
from tests.support.cli import harness
from tests.support.runs import DEFAULT_CONFIG
from tests.support.tracking import artifact_paths, runs

pytest.importorskip("mlflow")
pytestmark = pytest.mark.e2e
# The default config, made short: the same keys and metric names as a full run.
SHORT = ("hyperparameters.epochs=1", "dataset.max_train_samples=64",
         "dataset.max_eval_samples=32")


@pytest.fixture(scope="module")
def server():
    """`harness tracker up`'s server, left as it was found (up, or down)."""
    from harness.containers import tracker

    require_docker()
    was_running = tracker.status().running
    harness("tracker", "up")
    yield harness("tracker", "ui").stdout.strip()
    if not was_running:
        harness("tracker", "down")


def sets(*overrides: str) -> list[str]:
    return [arg for value in (*SHORT, *overrides) for arg in ("--set", value)]


def test_local_and_sagemaker_local_runs_line_up(tmp_path, server, sagemaker_local_stack):
    experiment = f"modes-{time.time_ns()}"
    for mode in ("local", "sagemaker-local"):
        options = ["-c", str(DEFAULT_CONFIG), "--mode", mode, *sets(
            f"run_dir={tmp_path}/{mode}", f"s3.prefix=tracking-{mode}-{time.time_ns()}",
            f"tracking.uri={server}", f"tracking.experiment={experiment}")]
        harness("prepare", *options)
        harness("train", *options)
    found = {r.data.tags["harness.mode"]: r for r in runs(server, experiment)}
    assert set(found) == {"local", "sagemaker-local"}
    local, containers = found["local"], found["sagemaker-local"]
    assert local.data.params == containers.data.params
    assert "learning_rate" in local.data.params and "model_name" in local.data.params
    assert set(local.data.metrics) == set(containers.data.metrics)
    assert {"eval_accuracy", "eval_loss", "train_loss", "epoch"} <= set(local.data.metrics)
    for mode, run in found.items():
        final = json.loads((tmp_path / mode / "state.json").read_text())["metrics"]
        assert run.info.status == "FINISHED"
        assert run.data.metrics["eval_accuracy"] == final["eval_accuracy"]
        assert artifact_paths(server, run.info.run_id) == {
            "config.yaml", "model_location.txt", "training_curves.png"}
    assert containers.data.tags["harness.image"].startswith("harness-train:")


def test_a_tuning_job_is_one_parent_with_its_children(tmp_path, server):
    experiment = f"tuning-{time.time_ns()}"
    harness("tune", "-c", str(DEFAULT_CONFIG), *sets(
        f"run_dir={tmp_path}/run", f"tracking.uri={server}", f"tracking.experiment={experiment}",
        "tuning={objective_metric_name: eval_accuracy, max_jobs: 2, max_parallel_jobs: 2, "
        "strategy: Random, random_seed: 5, hyperparameter_ranges: {learning_rate: "
        "{type: continuous, min_value: 1.0e-5, max_value: 1.0e-4}}}"))
    found = runs(server, experiment)
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    children = [r for r in found if r.data.tags.get("mlflow.parentRunId")
                == parents[0].info.run_id]
    assert len(children) == 2 == len(found) - 1
    assert sum(c.data.tags.get("harness.best_trial") == "true" for c in children) == 1
    assert "leaderboard.json" in artifact_paths(server, parents[0].info.run_id)
