"""A script of the user's own in `local` mode: its channels (a local folder linked in, an
S3 prefix read from moto's S3 server), its hyperparameters, its requirements.txt, its metrics
read from its log. No dataset, no model, no `harness prepare`."""

import json
import tarfile
from pathlib import Path

import pytest

from tests.support.cli import harness
from tests.support.runs import state, write_config
from tests.user_script.conftest import EPOCHS, SCRIPT, validation_mse, write_user_config


@pytest.fixture
def s3_server():
    """moto's S3 server on a free port, and the environment that points boto at it."""
    from moto.server import ThreadedMotoServer

    from harness.host.endpoint_process import free_port

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    server.stop()


def upload(env: dict, folder: Path, bucket: str, prefix: str) -> str:
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    for path in folder.iterdir():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{path.name}", Body=path.read_bytes())
    return f"s3://{bucket}/{prefix}/"


def test_own_script_trains_on_its_channels_with_its_requirements(tmp_path, user_code, user_data,
                                                                s3_server):
    validation = upload(s3_server, user_data["validation"], "user-data", "linear/validation")
    config = write_user_config(tmp_path, user_code, {"training": str(user_data["training"]),
                                                     "validation": validation})
    site = tmp_path / "site"  # pip installs there, not into the environment the tests share
    env = {**s3_server, "PIP_TARGET": str(site), "PYTHONPATH": str(site)}

    refused = harness("train", "-c", str(config), env=env, check=False)
    assert refused.returncode == 1
    assert "harness-probe-dep==1.0 (not installed)" in refused.stderr
    assert f"-m pip install -r {user_code / 'requirements.txt'}" in refused.stderr
    assert "--install-requirements" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "run" / "job").exists()  # refused before any job ran

    result = harness("train", "-c", str(config), "--install-requirements", env=env)
    assert (site / "harness_probe_dep" / "__init__.py").is_file()
    run = state(config)
    job = tmp_path / "run" / "job"
    assert (job / "input" / "data" / "training").resolve() == user_data["training"]
    assert (job / "input" / "data" / "validation" / "points.csv").read_text() == \
        (user_data["validation"] / "points.csv").read_text()  # downloaded from moto
    hps = json.loads((job / "input" / "config" / "hyperparameters.json").read_text())
    assert {k: v for k, v in hps.items() if not k.startswith("sagemaker_")} == \
        {"num-epochs": str(EPOCHS), "lr": "0.1"}  # exactly the config's, JSON-encoded

    model_tar = Path(run["training"]["model_artifact"])
    with tarfile.open(model_tar) as tar:
        assert sorted(tar.getnames()) == ["code", "code/inference.py", "dependency.txt",
                                          "model.pth"]
        assert tar.extractfile("dependency.txt").read() == b"1.0"
    with tarfile.open(run["training"]["output_artifact"]) as tar:
        assert "data/metrics.json" not in tar.getnames()
    mse = validation_mse(model_tar, user_data["validation"])
    assert run["metrics"]["validation:mse"] == pytest.approx(mse, abs=1e-6)
    assert run["metrics"]["validation:mse"] < 0.1  # it learned y = 2x + 1
    assert run["metric_names"] == ["train:loss", "validation:mse"]
    assert f"validation:mse {run['metrics']['validation:mse']:.4f}" in result.stdout
    assert "train:loss" in result.stdout
    assert Path(run["plot"]).read_bytes()[:4] == b"\x89PNG"


def test_prepare_without_a_dataset_says_train_reads_inputs(tmp_path, user_code, user_data):
    config = write_user_config(tmp_path, user_code, {"training": str(user_data["training"])})
    result = harness("prepare", "-c", str(config), check=False)
    assert result.returncode == 1
    assert "nothing to prepare: the config has no `dataset`" in result.stderr
    assert "`harness train` reads the config's `inputs`" in result.stderr


def test_unknown_s3_bucket_is_named_with_the_fix(tmp_path, user_code, user_data, s3_server):
    config = write_user_config(tmp_path, user_code, {"training": "s3://no-such-bucket/x/"})
    site = tmp_path / "site"
    result = harness("train", "-c", str(config), "--install-requirements", check=False,
                     env={**s3_server, "PIP_TARGET": str(site), "PYTHONPATH": str(site)})
    assert result.returncode == 1
    assert "channel training: nothing at s3://no-such-bucket/x/" in result.stderr
    assert "AWS_ENDPOINT_URL" in result.stderr and "Traceback" not in result.stderr


def test_failing_own_script_is_named_with_its_traceback(tmp_path, user_code, user_data):
    (user_code / "requirements.txt").unlink()
    script = user_code / SCRIPT
    script.write_text(script.read_text().replace("import harness_probe_dep  #", "#")
                      .replace("torch.manual_seed(0)", "raise ValueError('bad points')"))
    config = write_user_config(tmp_path, user_code, {"training": str(user_data["training"])})
    result = harness("train", "-c", str(config), check=False)
    assert result.returncode == 1
    assert f"{SCRIPT} failed in training job linear-fit-" in result.stderr
    assert "ValueError: bad points" in result.stderr
    assert "train.py" not in result.stderr


def test_own_script_exiting_without_a_traceback_shows_its_output_and_exit_code(
        tmp_path, user_code, user_data):
    (user_code / "requirements.txt").unlink()
    (user_code / SCRIPT).write_text("import sys\nprint('no rows in the training channel')\n"
                                    "sys.exit(3)\n")
    config = write_user_config(tmp_path, user_code, {"training": str(user_data["training"])})
    result = harness("train", "-c", str(config), check=False)
    assert result.returncode == 1
    assert f"{SCRIPT} failed in training job linear-fit-" in result.stderr
    assert "(exit code 3)" in result.stderr
    assert "no rows in the training channel" in result.stderr
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown and "accelerate" not in shown


def test_bundled_train_py_keeps_typed_hyperparameters(tmp_path):
    """harness's own train.py: `epochs: true` is an error, not 1; its unknown keys too."""
    result = harness("train", "-c", str(write_config(tmp_path)), "--set",
                     "hyperparameters.epochs=true", check=False)
    assert result.returncode == 1
    assert "hyperparameters.epochs: Value error, expected a number, not true/false" in \
        result.stderr
    assert "train.py's arguments" in result.stderr
