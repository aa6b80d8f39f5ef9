"""`sagemaker-local`: SDK local mode on a real Docker engine and real LocalStack."""

import io
import json
import re
import tarfile
import time

import pytest

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import DEFAULT_CONFIG, left_behind, read_object, state, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sagemaker_local_stack")]
MODE = ("--mode", "sagemaker-local")


def test_run_default_config(tmp_path, sagemaker_local_stack):
    started, port = time.time(), free_port()
    result = harness("run", "-c", str(DEFAULT_CONFIG), *MODE, "--set", f"run_dir={tmp_path}/run",
                     "--set", f"endpoint.port={port}", "--set", "s3.prefix=e2e-default")
    run = json.loads((tmp_path / "run" / "state.json").read_text())
    artifact = run["training"]["model_artifact"]
    assert artifact.startswith("s3://harness-artifacts/e2e-default/")
    with tarfile.open(fileobj=io.BytesIO(read_object(sagemaker_local_stack, artifact))) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(tmp_path / "model"))
    assert classify("Wonderful acting and a moving story.")[0]["label"] == "POSITIVE"
    assert run["metrics"]["eval_accuracy"] >= 0.80
    response = run["prediction"]["response"]
    assert [item["label"] in ("NEGATIVE", "POSITIVE") for item in response] == [True, True]
    assert "Summary (sagemaker-local mode" in result.stdout
    log = (tmp_path / "run" / "train.log").read_text()  # docker-compose colours its prefixes
    assert "\x1b" not in log and "\r" not in log and "train step" in log
    assert not endpoint_process.listening(port)
    assert left_behind(tmp_path / "run", started) == []



def test_prepare_makes_a_bucket_that_is_not_there_yet(tiny_job, sagemaker_local_stack):
    """A fresh LocalStack has no bucket: the run's is made (in us-east-1, where S3 refuses a
    LocationConstraint), and prepare's channels land in it."""
    import uuid

    import boto3

    from harness.modes.sagemaker_local.session import CREDENTIALS

    bucket = f"harness-new-{uuid.uuid4().hex[:12]}"
    harness("prepare", "-c", str(tiny_job), *MODE, "--set", f"s3.bucket={bucket}")
    s3 = boto3.client("s3", endpoint_url=sagemaker_local_stack, **CREDENTIALS)
    try:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert any("/data/train/" in key for key in keys), keys
    finally:
        for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=listed["Key"])
        s3.delete_bucket(Bucket=bucket)

@pytest.fixture
def tiny_pair(tmp_path, tiny_job):
    """The tiny job as two configs that differ only in run_dir and S3 prefix."""
    import yaml

    base = yaml.safe_load(tiny_job.read_text())
    configs = {}
    for mode in ("local", "sagemaker-local"):
        folder = tmp_path / mode
        folder.mkdir()
        configs[mode] = write_config(folder, **{**base, "run_dir": str(folder / "run"),
                                                "s3": {"prefix": f"parity-{mode}"}})
    return configs


def test_parity_with_local_mode(tiny_pair, sagemaker_local_stack):
    """Same config, same seed, CPU: the same metrics and the same artifact layout."""
    started = time.time()
    for mode, config in tiny_pair.items():
        harness("prepare", "-c", str(config), "--mode", mode)
        harness("train", "-c", str(config), "--mode", mode)
    local, remote = (state(tiny_pair[m]) for m in ("local", "sagemaker-local"))
    for key in ("eval_accuracy", "eval_f1", "eval_precision", "eval_recall", "eval_loss"):
        assert remote["metrics"][key] == pytest.approx(local["metrics"][key], abs=1e-6), key

    def layout(training, prefix):
        return [uri.split(prefix)[-1].replace(training["job_name"], "JOB")
                for uri in (training["model_artifact"], training["output_artifact"])]

    assert layout(local["training"], "parity-local") == \
        layout(remote["training"], "parity-sagemaker-local")
    remote_bytes = read_object(sagemaker_local_stack, remote["training"]["model_artifact"])
    with tarfile.open(local["training"]["model_artifact"]) as local_tar, \
            tarfile.open(fileobj=io.BytesIO(remote_bytes)) as remote_tar:
        assert sorted(local_tar.getnames()) == sorted(remote_tar.getnames())
    assert left_behind(tiny_pair["sagemaker-local"].parent / "run", started) == []


def test_failing_script_shows_traceback_keeps_failure_file(tmp_path, tiny_job):
    import yaml

    started = time.time()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "boom.py").write_text("raise RuntimeError('disk on fire')\n")
    config = write_config(tmp_path, **{**yaml.safe_load(tiny_job.read_text()),
                                       "source_dir": str(tmp_path / "code"),
                                       "entry_point": "boom.py", "s3": {"prefix": "boom"}})
    harness("prepare", "-c", str(config), *MODE)
    result = harness("train", "-c", str(config), *MODE, check=False)
    assert result.returncode == 1
    # The exit code the toolkit reports (its launcher's, torchrun's), as SageMaker shows it.
    assert "boom.py failed in training job" in result.stderr and "(exit code 1)" in result.stderr
    # The toolkit joins the script's stderr in the chunks it read: the line may come split.
    assert re.search(r"RuntimeError:?\s+disk on fire", result.stderr), result.stderr
    failure = (tmp_path / "run" / "output" / "failure").read_text()  # the toolkit's own file
    assert "ExecuteUserScriptError" in failure and "ExitCode 1" in failure
    assert "boom.py" in failure
    assert left_behind(tmp_path / "run", started) == []


def test_localstack_down_is_reported_within_10s(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    result = harness("prepare", "-c", str(write_config(tmp_path)), *MODE, check=False)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert "LocalStack S3 is not reachable at http://127.0.0.1:" in result.stderr
    assert "harness emulator up" in result.stderr


def test_docker_down_says_how_to_start_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    result = harness("prepare", "-c", str(write_config(tmp_path)), *MODE, check=False)
    assert result.returncode == 1
    assert "Docker is not running or not reachable" in result.stderr
    assert "systemctl start docker" in result.stderr


def test_missing_image_says_how_to_build_it(tmp_path, tiny_job):
    harness("prepare", "-c", str(tiny_job), *MODE)
    result = harness("train", "-c", str(tiny_job), *MODE,
                     "--set", "modes.sagemaker-local.image_uri=harness-train:no-such-tag",
                     check=False)
    assert result.returncode == 1
    assert "image harness-train:no-such-tag is missing" in result.stderr
    assert "harness image build" in result.stderr
