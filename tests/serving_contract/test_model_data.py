"""Which model an endpoint serves and with which code: `--model-data` and `model_data:` (a
path or an s3:// URI, no training step), and `inference:` (source_dir, entry_point, env) on a
trained model, in every mode. In `sagemaker` the model becomes the CreateModel request's
ModelDataUrl and Environment (checked on the dry run's requests)."""

from __future__ import annotations

import io
import json
import socket
import tarfile

import psutil
import pytest

from harness.config import load_config
from harness.host import endpoint_process
from harness.model_artifact import repack, unpack
from tests.serving_contract.conftest import deploy_config, model_tar
from tests.support.cli import harness, without_aws
from tests.support.runs import read_object, state, write_config
from tests.support.sagemaker import ROLE, printed_request

# An entry point of the user's own, next to the training code, the way the SDK's Model takes
# `entry_point` and `source_dir`; it reads a variable set in `inference.env`.
SERVE_PY = '''
import json
import os


def output_fn(prediction, accept):
    return json.dumps({"labels": [p["label"] for p in prediction],
                       "greeting": os.environ["GREETING"]}), "application/json"
'''


@pytest.fixture(scope="module")
def no_code_tar(tiny_classifier, tmp_path_factory):
    return model_tar(tiny_classifier, tmp_path_factory.mktemp("plain") / "model.tar.gz")


def test_repack_replaces_code_as_the_sdk_does(tiny_classifier, tmp_path):
    source = model_tar(tiny_classifier, tmp_path / "model.tar.gz",
                       {"inference.py": "old", "stale.py": "old"})
    code = tmp_path / "src"
    code.mkdir()
    (code / "serve.py").write_text("new")
    out = io.BytesIO()
    with open(source, "rb") as original:
        repack(original, out, code, str(source))
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = tar.getnames()
    assert "code/serve.py" in names and "config.json" in names
    assert not any(n.endswith(("inference.py", "stale.py")) for n in names)
    with open(source, "rb") as original:
        unpack(original, tmp_path / "unpacked", code, str(source))
    assert sorted(p.name for p in (tmp_path / "unpacked" / "code").iterdir()) == ["serve.py"]


def test_a_file_that_is_no_tar_is_named(tmp_path):
    bogus = tmp_path / "model.tar.gz"
    bogus.write_text("not a tar")
    config = deploy_config(tmp_path / "job", "local", "not-a-tar")
    result = harness("deploy", "-c", str(config), "--model-data", str(bogus), check=False)
    assert result.returncode == 1
    assert f"{bogus} is not a model.tar.gz" in result.stderr
    assert "tar -czf model.tar.gz -C model ." in result.stderr


def test_nothing_to_deploy_says_how_to_give_a_model(tmp_path):
    config = deploy_config(tmp_path, "local", "nothing")
    result = harness("deploy", "-c", str(config), check=False)
    assert result.returncode == 1
    assert "harness train" in result.stderr and "--model-data" in result.stderr
    missing = harness("deploy", "-c", str(config), "--model-data", str(tmp_path / "x.tar.gz"),
                      check=False)
    assert f"--model-data: file not found: {tmp_path / 'x.tar.gz'}" in missing.stderr


@pytest.mark.e2e  # a whole run
def test_model_data_in_config_is_run_without_training(no_code_tar, tmp_path):
    config = deploy_config(tmp_path, "local", "config-model", model_data=str(no_code_tar))
    result = harness("run", "-c", str(config))
    run = state(config)
    assert "training" not in run and "prepare" not in run["timings"]
    assert [item["label"] in ("NEGATIVE", "POSITIVE") for item in run["prediction"]["response"]] \
        == [True, True]
    assert f"served:    {no_code_tar}" in result.stdout
    assert not endpoint_process.listening(run["last_endpoint"]["port"])


@pytest.mark.e2e  # an endpoint process
def test_bind_address_can_open_every_interface(no_code_tar, tmp_path):
    config = deploy_config(tmp_path, "local", "everywhere", endpoint={"bind_address": "0.0.0.0"})
    harness("deploy", "-c", str(config), "--model-data", str(no_code_tar))
    try:
        port = state(config)["endpoint"]["port"]
        outside = next(a.address for addresses in psutil.net_if_addrs().values()
                       for a in addresses
                       if a.family == socket.AF_INET and not a.address.startswith("127."))
        assert endpoint_process.listening(port, outside)
    finally:
        harness("delete", "-c", str(config))


def test_inference_keys_are_validated(tmp_path):
    for sections, message in [
        ({"inference": {"source_dir": str(tmp_path)}}, "inference script not found"),
        ({"inference": {"env": {"SAGEMAKER_PROGRAM": "x.py"}}}, "set that instead"),
        ({"inference": {"env": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": 5}}},
         "comes from endpoint.request_timeout_s"),
        ({"inference": {"entry_point": "../x.py"}}, "inference.entry_point"),
        ({"inference": {"sorce_dir": "x"}}, "inference.sorce_dir: unknown key"),
        ({"model_data": "absent.tar.gz"}, "model_data: file not found"),
    ]:
        result = harness("deploy", "-c", str(write_config(tmp_path, **sections)), check=False)
        assert result.returncode == 1 and message in result.stderr, (sections, result.stderr)


# -- a trained model with its own inference code, in both emulated modes ----------------------

@pytest.mark.e2e  # a whole flow, in both modes
@pytest.mark.parametrize("mode", ["local", "sagemaker-local"])
def test_trained_model_serves_the_configured_inference_code(mode, tiny_job, tmp_path, request):
    if mode == "sagemaker-local":
        request.getfixturevalue("sagemaker_local_stack")
    import yaml

    source = tmp_path / "serving"
    source.mkdir()
    (source / "serve.py").write_text(SERVE_PY)
    (source / "requirements.txt").write_text("numpy\n")  # met here, installed (a no-op) there
    config = write_config(tmp_path, **{**yaml.safe_load(tiny_job.read_text()),
                                       "s3": {"prefix": f"inference-code-{mode}"},
                                       "inference": {"source_dir": str(source),
                                                     "entry_point": "serve.py",
                                                     "env": {"GREETING": "hello"}}})
    args = ("-c", str(config), "--mode", mode)
    for step in ("prepare", "train", "deploy"):
        harness(step, *args)
    try:
        answer = json.loads(harness("predict", *args, "a fine film", "a dull film").stdout)
        assert answer["greeting"] == "hello"
        assert set(answer["labels"]) <= {"NEGATIVE", "POSITIVE"} and len(answer["labels"]) == 2
        if mode == "sagemaker-local":  # the repacked model, as the SDK would have written it
            served = state(config)["endpoint"]
            stored = read_object(request.getfixturevalue("sagemaker_local_stack"),
                                 f"s3://harness-artifacts/inference-code-{mode}/endpoints/"
                                 f"{served['name']}/model.tar.gz")
            with tarfile.open(fileobj=io.BytesIO(stored)) as tar:
                names = tar.getnames()
            assert "code/serve.py" in names and "code/requirements.txt" in names
    finally:
        harness("delete", *args)


@pytest.mark.parametrize("mode", ["local", "sagemaker-local"])
def test_model_data_from_s3(mode, no_code_tar, tmp_path, sagemaker_local_stack, monkeypatch):
    """An s3:// URI: LocalStack's S3 is sagemaker-local's; local mode reads any S3 with the
    environment's credentials (here pointed at LocalStack too)."""
    import boto3

    from harness.modes.sagemaker_local.session import CREDENTIALS

    uri = f"s3://harness-artifacts/uploaded-{mode}/model.tar.gz"
    boto3.client("s3", endpoint_url=sagemaker_local_stack, **CREDENTIALS).upload_file(
        str(no_code_tar), "harness-artifacts", uri.split("/", 3)[3])
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", sagemaker_local_stack)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    config = deploy_config(tmp_path, mode, f"from-s3-{mode}")
    args = ("-c", str(config), "--mode", mode)
    absent = harness("deploy", *args, "--model-data", uri + ".absent", check=False)
    assert absent.returncode == 1 and f"model data not found: {uri}.absent" in absent.stderr
    harness("deploy", *args, "--model-data", uri)
    try:
        answer = json.loads(harness("predict", *args, "a fine film").stdout)
        assert answer[0]["label"] in ("NEGATIVE", "POSITIVE")
        assert state(config)["endpoint"]["model_data"] == uri
    finally:
        harness("delete", *args)


# -- sagemaker: the CreateModel request ----------------------------------------------------------

def create_model(tmp_path, *overrides: str) -> str:
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE}})
    result = without_aws("run", "-c", str(config), "--mode", "sagemaker", "--dry-run",
                 *(arg for o in overrides for arg in ("--set", o)))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_sagemaker_model_data_is_the_model_data_url(tmp_path):
    stdout = create_model(tmp_path, "model_data=s3://my-bucket/models/model.tar.gz",
                          "inference.env.HF_TASK=text-classification")
    assert "CreateTrainingJob" not in stdout  # nothing to train
    model = printed_request(stdout, "CreateModel")["PrimaryContainer"]
    assert model["ModelDataUrl"] == "s3://my-bucket/models/model.tar.gz"
    assert model["Environment"]["HF_TASK"] == "text-classification"
    assert "huggingface-pytorch-inference" in model["Image"]


def test_sagemaker_inference_code_is_repacked_into_the_model(tmp_path):
    source = tmp_path / "serving"
    source.mkdir()
    (source / "serve.py").write_text(SERVE_PY)
    model = printed_request(create_model(
        tmp_path, f"inference.source_dir={source}", "inference.entry_point=serve.py",
        "framework=pytorch"), "CreateModel")["PrimaryContainer"]
    s3_root = load_config(tmp_path / "job.yaml").s3_root  # the run's own prefix
    assert model["ModelDataUrl"] == \
        f"{s3_root}/endpoints/sentiment-minilm-endpoint/model.tar.gz"
    assert model["Environment"]["SAGEMAKER_PROGRAM"] == "serve.py"
    assert model["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert "pytorch-inference:2.6.0" in model["Image"]



@pytest.mark.parametrize("source, shown, hidden", [
    ("def model_fn(model_dir):\n    return 1 +\n",
     ["inference.py\", line 2", "return 1 +", "SyntaxError: invalid syntax"], ["Traceback"]),
    ("def load():\n    raise RuntimeError('no weights here')\n\n\n"
     "def model_fn(model_dir):\n    return load()\n",
     ["Traceback (most recent call last)", "in model_fn", "in load",
      "RuntimeError: no weights here"], []),
])
def test_a_broken_inference_py_shows_its_own_frames_once(tiny_classifier, tmp_path, source,
                                                          shown, hidden):
    tar = model_tar(tiny_classifier, tmp_path / "model.tar.gz", {"inference.py": source})
    config = deploy_config(tmp_path, "local", "broken-code", model_data=str(tar))
    result = harness("deploy", "-c", str(config), check=False)
    assert result.returncode == 1
    for text in shown:
        assert result.stderr.count(text) == 1, (text, result.stderr)
    for text in [*hidden, "harness/serving", "importlib", "<frozen"]:
        assert text not in result.stderr, (text, result.stderr)
