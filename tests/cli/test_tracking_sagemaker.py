"""`sagemaker` mode with SageMaker's managed MLflow: the training job's environment carries the
tracking server's ARN and the experiment (checked at the request level with botocore's
Stubber), the dry run shows them, and logging from this machine without the sagemaker-mlflow
plugin is one warning with the fix. Nothing calls AWS."""

from __future__ import annotations

import logging
import sys

from botocore.stub import ANY

from harness import tracking
from harness.errors import MESSAGES
from harness.job import Job
from tests.support.cli import without_aws
from tests.support.runs import write_config
from tests.support.sagemaker import (
    ARN,
    ROLE,
    V2_TRAINING_JOB,
    guide,
    printed_request,
    stubbed_mode,
)

MLFLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team-server"
JOB_KEYS = ("AlgorithmSpecification", "OutputDataConfig", "TrainingJobName", "StoppingCondition",
            "ResourceConfig", "RoleArn", "InputDataConfig", "HyperParameters", *V2_TRAINING_JOB)


def test_the_training_job_carries_the_arn_and_the_experiment(tmp_path, caplog, monkeypatch):
    # a machine without the plugin (SDK v3 brings it): its import fails, as Python's would
    monkeypatch.setitem(sys.modules, "sagemaker_mlflow", None)
    config = guide(tmp_path, f"tracking.uri={MLFLOW_ARN}", "tracking.experiment=guide-runs")
    mode, stub = stubbed_mode(config, "us-east-1")
    job = Job(config, mode)
    # The CLI's first run in this process stops its messages reaching the root logger.
    messages = logging.getLogger(MESSAGES)
    propagate, messages.propagate = messages.propagate, True
    try:
        tracked = tracking.training_run(config, "imdb-distilbert-job", job.hyperparameters(),
                                        {}, "the run dir")
    finally:
        messages.propagate = propagate
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "pip install sagemaker-mlflow" in warnings[0]
    environment = tracked.environment(mode.tracking_uri_in_job)
    assert environment == {"MLFLOW_TRACKING_URI": MLFLOW_ARN,
                           "MLFLOW_EXPERIMENT_NAME": "guide-runs"}
    stub.add_response("create_training_job", {"TrainingJobArn": ARN},
                      {**dict.fromkeys(JOB_KEYS, ANY), "Environment": environment})
    for operation, answer in (("create_model", {"ModelArn": ARN}),
                              ("create_endpoint_config", {"EndpointConfigArn": ARN}),
                              ("create_endpoint", {"EndpointArn": ARN})):
        stub.add_response(operation, answer, None)
    with stub:
        mode.plan({s: f"{config.s3_root}/data/{s}" for s in ("train", "test")},
                  job.hyperparameters(), environment)
    stub.assert_no_pending_responses()


def test_a_store_on_this_machine_is_not_passed_to_a_cloud_job(tmp_path):
    config = guide(tmp_path, "tracking.uri=sqlite:///mlruns.db")
    mode, _ = stubbed_mode(config, "us-east-1")
    assert tracking.TrainingRun(tracking.target(config)).environment(
        mode.tracking_uri_in_job) == {}


def test_the_dry_run_prints_the_tracking_configuration(tmp_path):
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE, "region": "us-east-1"}},
                          tracking={"uri": MLFLOW_ARN})
    result = without_aws("run", "-c", str(config), "--mode", "sagemaker", "--dry-run")
    assert result.returncode == 0, result.stderr
    job = printed_request(result.stdout, "CreateTrainingJob")
    assert job["Environment"] == {"MLFLOW_TRACKING_URI": MLFLOW_ARN,
                                  "MLFLOW_EXPERIMENT_NAME": "sentiment-minilm"}
    assert f"tracking: the training job gets MLFLOW_TRACKING_URI={MLFLOW_ARN}" in \
        result.stdout + result.stderr
