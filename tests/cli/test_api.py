"""harness from Python: `harness.Job` runs the CLI's steps, `harness.session` gives a mode's
SDK session. Errors are exceptions carrying their fix, never process exits."""

import subprocess
import sys

import pytest

import harness
from harness import metrics as harness_metrics
from harness.errors import HarnessError, StepError
from harness.host import endpoint_process
from tests.support.runs import REPO, write_config
from tests.support.sagemaker import ROLE


@pytest.mark.e2e  # a whole flow
def test_job_flow_in_local_mode(tiny_job):
    job = harness.Job.from_config(tiny_job, mode="local",
                                  overrides={"hyperparameters.seed": 11})
    with pytest.raises(StepError, match="no prepared") as error:
        job.train()  # out of order: an exception with the fix, not an exit
    assert "harness prepare" in error.value.hint
    prepared = job.prepare()
    assert prepared.rows == {"train": 32, "test": 16}
    metrics = job.train()
    assert 0 <= metrics["eval_accuracy"] <= 1 and metrics == job.state["metrics"]
    # The config's metric_definitions find train.py's final eval metrics in its real log.
    logged = harness_metrics.series(job.config.metric_definitions,
                                    (tiny_job.parent / "run" / "train.log").read_text())
    assert job.state["metric_names"] == list(logged) == [
        "eval_loss", "eval_accuracy", "eval_f1", "eval_precision", "eval_recall"]
    # What the regexes read from the log is what metrics.json holds, as the log prints it
    # (four decimals).
    assert harness_metrics.last_values(logged) == pytest.approx(
        {name: metrics[name] for name in logged}, abs=5e-5)
    assert job.model_data.endswith("/output/model.tar.gz")
    assert job.state["training"]["model_artifact"] == job.model_data
    with job.deploy() as predictor:
        port = predictor.endpoint.port
        answer = predictor.predict({"inputs": ["a fine film", "dull"]})
        assert [item["label"] in ("NEGATIVE", "POSITIVE") for item in answer] == [True, True]
    assert not endpoint_process.listening(port)
    assert job.state["endpoint"] is None
    assert "Summary (local mode" in job.summary()
    hps = (tiny_job.parent / "run" / "job" / "input" / "config" / "hyperparameters.json")
    assert '"seed": "11"' in hps.read_text()  # the override reached the job


def test_config_errors_are_exceptions(tmp_path):
    with pytest.raises(HarnessError, match="hyperparameters.epochs"):
        harness.Job.from_config(write_config(tmp_path), overrides={"hyperparameters.epochs": 0})


def test_local_mode_has_no_sdk_session():
    with pytest.raises(HarnessError, match="'local' mode runs no SageMaker SDK") as error:
        harness.session("local")
    assert "harness.session('sagemaker-local')" in error.value.hint


def test_sagemaker_session_needs_no_call(tmp_path):
    """A real sagemaker.Session in the configured region; nothing is sent to make it."""
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE, "region": "eu-west-1"}})
    session = harness.session("sagemaker", config)
    assert session.sagemaker_session.boto_region_name == "eu-west-1"
    assert (session.role, session.default_bucket) == (ROLE, "harness-artifacts")
    assert (session.instance_type, session.inference_instance_type) == (
        "ml.p3.2xlarge", "ml.g4dn.xlarge")
    assert session.image_uri is None  # the SDK picks the DLC from the estimator's versions


def test_importing_harness_stays_light():
    """harness/__init__.py is the endpoint server's package too, in containers that have only
    the standard library and transformers: the API is loaded on first use."""
    code = ("import sys, harness; heavy = {'pydantic', 'yaml', 'click', 'sagemaker', 'boto3'}; "
            "print(sorted(heavy & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
    with pytest.raises(AttributeError):
        harness.no_such_name  # noqa: B018
