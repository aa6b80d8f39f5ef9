"""`--mode sagemaker` end to end against an emulated AWS (tests/aws_emulator.py): the production
code path, unchanged, reached through AWS_ENDPOINT_URL. Training runs for real, the endpoint is a
real harness model server; only the SDK's polling sleeps are virtual. Under either SDK major:
v2's estimator, model and waiters, or harness's own requests through v3's session
(`harness/sdk/v3_jobs.py`)."""

import json
import re
import signal
import subprocess

import pytest

from harness.host import endpoint_process
from tests.aws_emulator import ROLE
from tests.support.cli import harness_process
from tests.support.runs import LABELS, state
from tests.support.sagemaker import TRAINING_DLC
from tests.support.tracking import runs

pytestmark = pytest.mark.e2e
DLC = TRAINING_DLC.format(region="us-east-1")
TIMESTAMP = re.compile(r"-\d{4}(-\d\d){5}-\d{3}")


def without_timestamps(keys):
    return sorted(TIMESTAMP.sub("-<job>", key) for key in keys)


def test_prepare_train_deploy_predict_delete(aws, tiny_job):
    config = str(aws.config(tiny_job, prefix="flow"))
    planned = aws.harness("run", "-c", config, "--dry-run").stdout
    planned_uploads = [line.split(" ", 1)[1].removeprefix("s3://harness-emulated/")
                       for line in planned.splitlines() if line.startswith("PutObject ")]
    assert aws.requests == []  # the dry run asked nothing of AWS

    aws.harness("prepare", "-c", config)
    stored = aws.objects("flow/")
    assert {key.split("/")[1] for key in stored} == {"data", "channels"}
    assert any(key.startswith("flow/channels/model/") for key in stored)  # a local model folder

    store = f"sqlite:///{tiny_job.parent / 'mlruns.db'}"  # tracked from this machine
    trained = aws.harness("train", "-c", config, "--set", f"tracking.uri={store}",
                          "--set", "tracking.experiment=flow")
    run = state(tiny_job)
    job = run["training"]["job_name"]
    (tracked,) = runs(store, "flow")
    assert (tracked.info.run_name, tracked.data.tags["harness.mode"]) == (job, "sagemaker")
    assert tracked.data.metrics["eval_accuracy"] == run["metrics"]["eval_accuracy"]
    assert tracked.data.tags["harness.model_artifact"] == run["training"]["model_artifact"]
    assert "eval_accuracy" in trained.stdout  # train.py's own output, through CloudWatch Logs
    assert "Summary (sagemaker mode" in trained.stdout
    described = aws.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["RoleArn"] == ROLE
    assert described["AlgorithmSpecification"]["TrainingImage"] == DLC
    assert described["ResourceConfig"]["InstanceType"] == "ml.p3.2xlarge"
    assert json.loads(described["HyperParameters"]["epochs"]) == 1
    assert {f"flow/{job}/output/model.tar.gz", f"flow/{job}/output/output.tar.gz"} <= set(
        aws.objects(f"flow/{job}/"))
    assert 0 <= run["metrics"]["eval_accuracy"] <= 1
    assert (tiny_job.parent / "run" / "training_curves.png").exists()
    # Every upload the dry run listed, and no other, was made.
    assert without_timestamps(planned_uploads) == without_timestamps(
        [key for key in aws.objects("flow/") if "/output/" not in key])

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
    # No call the user did not ask for: no telemetry, no STS or IAM, nothing off this machine.
    assert {r["service"] for r in aws.requests} <= {"s3", "sagemaker", "logs"}
    assert aws.egress == []


def one_screen(result) -> str:
    """The error output, checked to be a message: one screen, no traceback of harness's (a
    user script's own traceback is the message)."""
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert not re.search(r'File ".*/(harness|sagemaker|botocore|click)/', result.stderr)
    assert len(result.stderr.splitlines()) <= 50
    return result.stderr


@pytest.fixture
def prepared(aws, tiny_job) -> str:
    config = str(aws.config(tiny_job, prefix="failing"))
    aws.harness("prepare", "-c", config)
    return config


def test_a_job_failed_by_sagemaker_is_an_error(aws, prepared, tiny_job):
    aws.fail_training = ("InternalServerError: We encountered an internal error. "
                         "Please try again.")
    error = one_screen(aws.harness("train", "-c", prepared, check=False))
    (job,) = aws.sagemaker().training_jobs
    assert f"error: training job {job} failed before train.py ran" in error
    assert aws.fail_training in error
    assert "training" not in state(tiny_job)


USER_SCRIPT = '''
import argparse
import os

from datasets import load_from_disk

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
args, _ = parser.parse_known_args()
train = load_from_disk(os.environ["SM_CHANNEL_TRAIN"])
raise ValueError(f"expected 3 labels, the train channel has {len(set(train['labels']))}")
'''


def test_a_failing_script_shows_its_own_error(aws, tmp_path, tiny_job):
    """A training script written as SageMaker's docs write them, failing on its data."""
    source = tmp_path / "user-code"
    source.mkdir()
    (source / "train.py").write_text(USER_SCRIPT)
    config = str(aws.config(tiny_job, prefix="script"))
    aws.harness("prepare", "-c", config, "--set", f"source_dir={source}")
    error = one_screen(aws.harness("train", "-c", config, "--set", f"source_dir={source}",
                                   check=False))
    assert "train.py failed in training job" in error
    assert "ValueError: expected 3 labels, the train channel has 2" in error
    (job,) = aws.sagemaker().training_jobs.values()
    assert job.training_job_status == "Failed"
    assert "ValueError: expected 3 labels" in job.failure_reason
    assert (tiny_job.parent / "run" / "output" / "failure").exists()


@pytest.fixture
def trained(aws, tiny_job, tiny_classifier) -> str:
    """A config whose run has a trained model in the emulated S3 (the tiny classifier)."""
    import io
    import tarfile

    from harness.run_dir import RunDir, TrainingResult

    config = aws.config(tiny_job, prefix="hosting")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for entry in sorted(tiny_classifier.iterdir()):
            tar.add(entry, arcname=entry.name)
    root = "s3://harness-emulated/hosting/tiny-job/output"
    aws.client("s3").create_bucket(Bucket="harness-emulated")
    aws.client("s3").put_object(Bucket="harness-emulated",
                                Key="hosting/tiny-job/output/model.tar.gz", Body=archive.getvalue())
    RunDir(tiny_job.parent / "run", "sagemaker").save(training=TrainingResult(
        "tiny-job", f"{root}/model.tar.gz", f"{root}/output.tar.gz"))
    return str(config)


PING_FAILED = ("The primary container for production variant AllTraffic did not pass the ping "
               "health check. Please check CloudWatch logs for this endpoint.")


def test_a_failed_endpoint_is_deleted_with_its_config_and_model(aws, trained, tiny_job):
    aws.fail_endpoint = PING_FAILED
    error = one_screen(aws.harness("deploy", "-c", trained, check=False))
    assert "error: endpoint sentiment-minilm-endpoint failed" in error
    assert PING_FAILED in error
    assert "harness deleted it, its endpoint config and its model" in error
    assert aws.hosting() == {"endpoints": [], "endpoint configs": [], "models": []}
    assert "endpoint" not in state(tiny_job)


def test_a_failed_endpoint_kept_comes_with_the_commands_that_delete_it(aws, trained):
    aws.fail_endpoint = PING_FAILED
    error = one_screen(aws.harness("deploy", "-c", trained, "--set",
                                   "modes.sagemaker.keep_endpoint_on_failure=true", check=False))
    assert "kept it (keep_endpoint_on_failure)" in error
    kept = {"endpoints": ["sentiment-minilm-endpoint"],
            "endpoint configs": ["sentiment-minilm-endpoint"],
            "models": ["sentiment-minilm-endpoint-model"]}
    assert aws.hosting() == kept
    commands = error[error.index("delete it with: ") + len("delete it with: "):].split(";")[0]
    for command in commands.split(" && "):
        run_cli_command(aws, command)
    assert aws.hosting() == {"endpoints": [], "endpoint configs": [], "models": []}


def run_cli_command(aws, command: str) -> None:
    """An `aws sagemaker <operation> --region R --name-option value` command, made through boto3
    (the AWS CLI maps its words to the API this way)."""
    words = command.split()
    assert words[:2] == ["aws", "sagemaker"], command
    options = dict(zip(words[3::2], words[4::2], strict=False))
    region = options.pop("--region")
    operation = words[2].replace("-", "_")
    params = {"".join(part.title() for part in key[2:].split("-")): value
              for key, value in options.items()}
    getattr(aws.client("sagemaker", region), operation)(**params)


def interrupt(aws, until, *args: str) -> subprocess.CompletedProcess:
    """`harness <args> --mode sagemaker --yes` as its own process, Ctrl-C'd once `until()`."""
    proc = harness_process(*args, "--mode", "sagemaker", "--yes", env=aws.environ(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        aws.wait_for(lambda: until() or proc.poll() is not None, what=str(until))
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_ctrl_c_while_training_stops_the_job(aws, prepared):
    aws.training_proceeds.clear()  # the job stays InProgress
    result = interrupt(aws, lambda: aws.sagemaker().training_jobs, "train", "-c", prepared)
    assert result.returncode == 130, result.stdout[-3000:] + result.stderr[-3000:]
    (job,) = aws.sagemaker().training_jobs.values()
    aws.wait_for(lambda: job.training_job_status == "Stopped", what="the job to stop")
    assert f"stopped training job {job.training_job_name}" in result.stderr
    assert "interrupted" in result.stderr


def test_ctrl_c_while_deploying_deletes_the_endpoint(aws, trained):
    aws.endpoints_proceed.clear()  # the endpoint stays Creating
    result = interrupt(aws, lambda: aws.sagemaker().endpoints, "deploy", "-c", trained)
    assert result.returncode == 130, result.stdout[-3000:] + result.stderr[-3000:]
    assert "harness deleted it, its endpoint config and its model" in result.stderr
    assert aws.hosting() == {"endpoints": [], "endpoint configs": [], "models": []}
    assert aws.served("sentiment-minilm-endpoint") is None


def test_a_job_stopped_elsewhere_is_an_error(aws, prepared):
    """Stopped from the console while harness waits: the SDK only warns."""
    import threading

    aws.training_proceeds.clear()

    def stop_from_the_console():
        aws.wait_for(lambda: aws.sagemaker().training_jobs, what="the job")
        (name,) = aws.sagemaker().training_jobs
        aws.client("sagemaker").stop_training_job(TrainingJobName=name)

    threading.Thread(target=stop_from_the_console, daemon=True).start()
    error = one_screen(aws.harness("train", "-c", prepared, check=False))
    assert "was stopped before it completed" in error
