"""The `tracking:` section: valid URIs and ARNs, one-screen errors at load, and where runs go
(the section, then MLflow's environment variables, then a store beside the run dirs)."""

from __future__ import annotations

import pytest

from harness import tracking
from harness.config import load_config
from harness.errors import ConfigError
from harness.tracking.training import metric_points
from tests.support.runs import DEFAULT_CONFIG

ARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/my-server"


@pytest.fixture(autouse=True)
def no_mlflow_env(monkeypatch):
    for key in (tracking.URI_ENV, tracking.EXPERIMENT_ENV):
        monkeypatch.delenv(key, raising=False)


def config(*overrides: str, run_dir: str = "/tmp/projects/a/runs/x"):
    return load_config(DEFAULT_CONFIG, [f"run_dir={run_dir}", *overrides])


@pytest.mark.parametrize("uri", [
    "http://localhost:5000", "https://mlflow.example.com/x", "file:///tmp/mlruns",
    "sqlite:///runs/mlruns.db", "mlruns", "/abs/mlruns", ARN,
    "arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABC123"])
def test_valid_tracking_uris_load(uri):
    assert config(f"tracking.uri={uri}").tracking.uri == uri


@pytest.mark.parametrize(("uri", "said"), [
    ("ftp://host/x", "unknown scheme 'ftp'"),
    ("arn:aws:sagemaker:eu-west-1:123:mlflow-tracking-server/x", "not a SageMaker MLflow ARN"),
    ("arn:aws:s3:::bucket", "not a SageMaker MLflow ARN"),
    ("arn:aws:sagemaker:eu-west-1:123456789012:training-job/x", "not a SageMaker MLflow ARN")])
def test_unknown_scheme_or_bad_arn_is_a_config_error(uri, said):
    with pytest.raises(ConfigError) as raised:
        config(f"tracking.uri={uri}")
    assert "tracking.uri" in str(raised.value) and said in str(raised.value)


def test_unknown_key_in_the_section_is_an_error():
    with pytest.raises(ConfigError, match="tracking.server"):
        config("tracking.server=x")


def test_tracking_is_off_without_a_section_or_the_environment():
    assert tracking.target(config()) is None


def test_a_section_turns_it_on_with_a_store_beside_the_run_dirs():
    found = tracking.target(config("tracking.artifacts=false"))
    assert found == tracking.Target("sqlite:////tmp/projects/a/runs/mlruns.db",
                                    "sentiment-minilm", False)
    assert found.artifact_location == "file:///tmp/projects/a/runs/mlartifacts"


def test_precedence_section_then_environment_then_store(monkeypatch):
    monkeypatch.setenv(tracking.URI_ENV, "http://from-env:5000")
    monkeypatch.setenv(tracking.EXPERIMENT_ENV, "env-experiment")
    assert tracking.target(config()) == tracking.Target("http://from-env:5000",
                                                        "env-experiment", True)
    found = tracking.target(config("tracking.uri=http://configured:5000",
                                   "tracking.experiment=mine"))
    assert (found.uri, found.experiment) == ("http://configured:5000", "mine")
    assert tracking.target(config("tracking.enabled=false")) is None


def test_a_path_is_relative_to_the_config_file():
    found = tracking.target(config("tracking.uri=../mlruns"))
    assert found.uri == str((DEFAULT_CONFIG.parent.parent / "mlruns").resolve())


def test_metric_points_keep_steps_and_make_the_final_value_the_latest():
    history = [{"loss": 0.7, "step": 5, "epoch": 0.5}, {"loss": 0.5, "step": 10},
               {"eval_accuracy": 0.8, "step": 10}]
    logged = {"eval_accuracy": [0.8], "custom": [1.0, 2.0]}
    points = metric_points(history, logged, {"eval_accuracy": 0.85, "loss": 0.5, "ok": True})
    by_name: dict[str, list] = {}
    for name, value, step, at in points:
        by_name.setdefault(name, []).append((step, value, at))
    assert [(s, v) for s, v, _ in by_name["loss"]] == [(5, 0.7), (10, 0.5)]  # no repeat
    assert [(s, v) for s, v, _ in by_name["custom"]] == [(0, 1.0), (1, 2.0)]
    (step, value, first), (last_step, final, later) = by_name["eval_accuracy"]
    assert (step, value, last_step, final) == (10, 0.8, 10, 0.85) and later > first
    assert "ok" not in by_name and "step" not in by_name
