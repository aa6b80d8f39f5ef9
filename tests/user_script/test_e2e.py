"""A script of the user's own through whole flows: `harness run` in `local`, `harness train`
and `harness run` in `sagemaker-local` (PyTorch estimator, harness's image, LocalStack), and
the guide's own estimator code on `harness.session("sagemaker-local")`."""



import io
import tarfile

import pytest

import harness
from harness import sdk
from harness.host import endpoint_process
from tests.support.cli import harness as cli
from tests.support.runs import REPO, containers_left, published_addresses, read_object, state
from tests.user_script.conftest import validation_mse, write_user_config

pytestmark = pytest.mark.e2e
SAGEMAKER_LOCAL = ("--mode", "sagemaker-local")


def test_run_in_local_mode(tmp_path, user_code, user_data):
    config = write_user_config(tmp_path, user_code, {k: str(v) for k, v in user_data.items()})
    site = tmp_path / "site"
    result = cli("run", "-c", str(config), "--install-requirements",
                 env={"PIP_TARGET": str(site), "PYTHONPATH": str(site)})
    run = state(config)
    assert "prepare" not in run["timings"]  # no dataset: no prepare step
    assert run["metrics"]["validation:mse"] == pytest.approx(
        validation_mse(run["training"]["model_artifact"], user_data["validation"]), abs=1e-6)
    # Served by its own code/inference.py: y = 2x + 1, learned.
    answers = run["prediction"]["response"]
    assert [a["x"] for a in answers] == [0.5, -0.5]
    assert all(abs(a["y"] - (2 * a["x"] + 1)) < 0.3 for a in answers)
    assert "validation:mse" in result.stdout
    assert not endpoint_process.listening(run["last_endpoint"]["port"])


def stored_model(s3_url: str, uri: str, folder) -> tuple[list[str], bytes]:
    """A model.tar.gz in LocalStack: its names, and its model.pth unpacked into `folder`."""
    data = read_object(s3_url, uri)
    (folder / "model.tar.gz").write_bytes(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return sorted(tar.getnames()), tar.extractfile("dependency.txt").read()


def put_in_localstack(s3_url: str, folder, uri: str) -> str:
    import boto3

    from harness.modes.sagemaker_local.session import CREDENTIALS

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=s3_url, **CREDENTIALS)
    try:  # a fresh LocalStack has no bucket yet
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    for path in folder.iterdir():
        client.put_object(Bucket=bucket, Key=f"{prefix}{path.name}", Body=path.read_bytes())
    return uri


@pytest.mark.parametrize("validation_source", ["file", "s3"])
def test_train_in_sagemaker_local(tmp_path, user_code, user_data, sagemaker_local_stack,
                                  validation_source):
    """framework: pytorch (the PyTorch estimator) on harness's image; a local folder uploaded to
    LocalStack, and a file:// folder mounted by SDK local mode or an s3:// prefix read from
    LocalStack; requirements.txt installed by the toolkit in the container (nothing on this
    machine has the package)."""
    validation = f"file://{user_data['validation']}" if validation_source == "file" else \
        put_in_localstack(sagemaker_local_stack, user_data["validation"],
                          f"s3://harness-artifacts/user-{tmp_path.name[-16:]}/validation/")
    config = write_user_config(tmp_path, user_code, {"training": str(user_data["training"]),
                                                     "validation": validation})
    result = cli("train", "-c", str(config), *SAGEMAKER_LOCAL)
    run = state(config)
    names, dependency = stored_model(sagemaker_local_stack, run["training"]["model_artifact"],
                                     tmp_path)
    assert names == ["code", "code/inference.py", "dependency.txt", "model.pth"]
    assert dependency == b"1.0"  # the script imported what requirements.txt installed
    log = (tmp_path / "run" / "train.log").read_text()
    assert "Installing dependencies from requirements.txt" in log
    assert "harness-probe-dep" in log
    assert run["metrics"]["validation:mse"] == pytest.approx(
        validation_mse(tmp_path / "model.tar.gz", user_data["validation"]), abs=1e-6)
    assert f"validation:mse {run['metrics']['validation:mse']:.4f}" in result.stdout
    uploaded = read_object(sagemaker_local_stack,
                           f"{run['training']['model_artifact'].rsplit('/', 3)[0]}"
                           "/channels/training/points.csv")
    assert uploaded == (user_data["training"] / "points.csv").read_bytes()
    assert containers_left(tmp_path / "run") == []


def test_s3_input_missing_from_localstack_is_named(tmp_path, user_code, sagemaker_local_stack):
    config = write_user_config(tmp_path, user_code, {"training": "s3://harness-artifacts/none/"})
    result = cli("train", "-c", str(config), *SAGEMAKER_LOCAL, check=False)
    assert result.returncode == 1
    assert "inputs.training: s3://harness-artifacts/none/ is not in LocalStack S3" in result.stderr
    assert f"aws --endpoint-url {sagemaker_local_stack} s3 cp" in result.stderr
    assert not (tmp_path / "run" / "sagemaker-local").exists()  # refused before any container


def test_run_in_sagemaker_local(tmp_path, user_code, user_data, sagemaker_local_stack):
    config = write_user_config(tmp_path, user_code, {k: str(v) for k, v in user_data.items()},
                               endpoint={"startup_timeout_s": 30})
    try:
        cli("run", "-c", str(config), *SAGEMAKER_LOCAL)
        answers = state(config)["prediction"]["response"]
        assert all(abs(a["y"] - (2 * a["x"] + 1)) < 0.3 for a in answers)
    finally:
        assert containers_left(tmp_path / "run") == []


@pytest.mark.skipif(sdk.major() != 2, reason="the guide's HuggingFace estimator is SDK v2's")
def test_guide_estimator_code_on_the_harness_session(tmp_path, tiny_job, sagemaker_local_stack):
    """The guide's HuggingFace estimator, fit/deploy/predict/delete, unchanged but for the
    values `harness.session` swaps in. The data is the tiny job's, stored by `harness prepare`
    (the guide stores it with save_to_disk)."""
    import yaml

    config = yaml.safe_load(tiny_job.read_text())
    config["s3"] = {"prefix": f"guide-{tmp_path.name[-12:]}"}
    tiny_job.write_text(yaml.safe_dump(config))
    cli("prepare", "-c", str(tiny_job), *SAGEMAKER_LOCAL)
    inputs = state(tiny_job)["prepared"]["channels"]  # train, test, and the model's folder

    from sagemaker.huggingface import HuggingFace

    with harness.session("sagemaker-local", tiny_job) as sess:
        # --- the guide's code, its values swapped for the session's ---
        hyperparameters = {"epochs": 1, "train_batch_size": 32,
                           "model_name": "distilbert-base-uncased"}
        huggingface_estimator = HuggingFace(
            entry_point="train.py", source_dir=str(REPO / "train"),
            instance_type=sess.instance_type, instance_count=1, role=sess.role,
            image_uri=sess.image_uri, transformers_version="4.26", pytorch_version="1.13",
            py_version="py39", hyperparameters=hyperparameters,
            sagemaker_session=sess.sagemaker_session)
        huggingface_estimator.fit(inputs)
        predictor = huggingface_estimator.deploy(initial_instance_count=1,
                                                 instance_type=sess.inference_instance_type)
        sentiment_input = {"inputs": "I love using the new Inference DLC."}
        answer = predictor.predict(sentiment_input)
        published = published_addresses(tiny_job.parent / "run")
        predictor.delete_endpoint()
        # ---
    assert published == {"127.0.0.1"}  # endpoint.bind_address, as harness's own endpoints
    assert answer[0]["label"] in ("NEGATIVE", "POSITIVE") and 0 <= answer[0]["score"] <= 1
    assert huggingface_estimator.model_data.startswith(f"s3://{sess.default_bucket}/")
    assert not endpoint_process.listening(yaml.safe_load(tiny_job.read_text())["endpoint"]["port"])
    assert containers_left(tiny_job.parent / "run") == []
