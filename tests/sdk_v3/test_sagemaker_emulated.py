"""`--mode sagemaker` end to end under SDK v3, against the emulated AWS of
tests/e2e/test_sagemaker_emulated.py: harness's own requests (`harness/sdk/v3_jobs.py`) train,
deploy, predict and delete, the job's log read from CloudWatch Logs as v2's SDK reads it. v3's
polling sleeps (in `sagemaker.core.helper.session_helper`) advance the emulator's virtual clock.
Skipped under v2, whose flow is the e2e test's."""

import json

import pytest

from harness import sdk
from harness.host import endpoint_process
from tests.aws_emulator import ROLE, FastClock
from tests.support.runs import LABELS, state

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(sdk.major() != 3, reason="SDK v3's flow; SDK v2 is installed")]
DLC = ("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:"
       "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04")


@pytest.fixture
def aws_v3(aws_emulator, monkeypatch):
    from sagemaker.core.helper import session_helper

    aws_emulator.reset()
    monkeypatch.setattr(session_helper, "time", FastClock())
    yield aws_emulator
    aws_emulator.reset()


def test_prepare_train_deploy_predict_delete(aws_v3, tiny_job):
    aws = aws_v3
    config = str(aws.config(tiny_job, prefix="flow-v3"))
    aws.harness("prepare", "-c", config)
    trained = aws.harness("train", "-c", config)
    run = state(tiny_job)
    assert "eval_accuracy" in trained.stdout  # train.py's own output, through CloudWatch Logs
    described = aws.client("sagemaker").describe_training_job(
        TrainingJobName=run["training"]["job_name"])
    assert described["TrainingJobStatus"] == "Completed"
    assert described["RoleArn"] == ROLE
    assert described["AlgorithmSpecification"]["TrainingImage"] == DLC
    assert 0 <= run["metrics"]["eval_accuracy"] <= 1

    aws.harness("deploy", "-c", config)
    endpoint = state(tiny_job)["endpoint"]
    assert aws.hosting() == {"endpoints": [endpoint["name"]],
                             "endpoint configs": [endpoint["name"]],
                             "models": [endpoint["mode_state"]["name"]]}
    served = aws.served(endpoint["name"])
    answer = json.loads(aws.harness("predict", "-c", config, "good", "bad").stdout)
    assert [item["label"] in LABELS for item in answer] == [True, True]
    aws.harness("delete", "-c", config)
    assert aws.hosting() == {"endpoints": [], "endpoint configs": [], "models": []}
    assert not endpoint_process.listening(served.port)
    assert {r["service"] for r in aws.requests} <= {"s3", "sagemaker", "logs"}
    assert aws.egress == []
