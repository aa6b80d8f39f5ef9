"""The serving conformance suite's fixtures: user inference code written the way SageMaker's
docs write it (it knows nothing of harness), model.tar.gz files built from it, and endpoints
deployed from them with `harness deploy --model-data` in each emulated mode."""

from __future__ import annotations

import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.host import invocations
from harness.host.endpoint_process import free_port
from tests.reliability.conftest import minilm_classifier
from tests.support.cli import harness
from tests.support.runs import pure_wheel, state, write_config

MODES = ["local", "sagemaker-local"]

# All four hooks, the way the SageMaker local-mode samples write them: output_fn returns
# (body, content type); predict_fn reads the request's CustomAttributes from its context and
# sends an answer back.
FOUR_HOOKS = '''
import json

from transformers import pipeline


def model_fn(model_dir):
    return pipeline("text-classification", model=model_dir, tokenizer=model_dir)


def input_fn(request_body, request_content_type):
    if request_content_type == "application/json":
        return json.loads(request_body)["inputs"]
    raise ValueError("unsupported content type: " + str(request_content_type))


def predict_fn(input_data, model, context):
    attributes = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")
    if attributes:
        context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes",
                                    "seen=" + attributes)
    return model(input_data)


def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction, "accept": accept}), "application/json"
'''

TRANSFORM_FN = '''
import json

from transformers import pipeline


def model_fn(model_dir):
    return pipeline("text-classification", model=model_dir, tokenizer=model_dir)


def transform_fn(model, request_body, content_type, accept):
    texts = json.loads(request_body)["inputs"]
    labels = [result["label"] for result in model(texts)]
    return json.dumps({"labels": labels}), "application/vnd.labels+json"
'''

MODEL_FN_ONLY = '''
from transformers import pipeline


def model_fn(model_dir):
    # every label with its score, where the default pipeline gives the best one
    return pipeline("text-classification", model=model_dir, tokenizer=model_dir, top_k=None)
'''

# A handler that streams: each text's answer is sent as soon as it is ready, one JSON line each.
STREAMING = '''
import json

from transformers import pipeline


def model_fn(model_dir):
    return pipeline("text-classification", model=model_dir, tokenizer=model_dir)


def transform_fn(model, request_body, content_type, accept):
    texts = json.loads(request_body)["inputs"]

    def lines():
        for text in texts:
            yield json.dumps({"text": text, **model(text)[0]}) + "\\n"

    return lines(), "application/jsonlines"
'''

REQUIRES_PROBE = '''
import harness_probe_pkg


def model_fn(model_dir):
    return harness_probe_pkg.VALUE


def predict_fn(data, model):
    return {"probe": model}
'''
PROBE_REQUIREMENTS = "--no-index\n--find-links wheels\nharness-probe-pkg==1.0\n"

# The PyTorch toolkit's convention: model_fn loads the model, requests are arrays.
PYTORCH = '''
import os

import torch


class Scale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x * self.weight


def model_fn(model_dir):
    model = Scale()
    model.load_state_dict(torch.load(os.path.join(model_dir, "weights.pth")))
    return model
'''


def probe_wheel(folder: Path) -> Path:
    """A one-module wheel (harness-probe-pkg 1.0) that no environment has installed."""
    return pure_wheel(folder, "harness_probe_pkg", "1.0",
                      "VALUE = 'installed by pip from requirements.txt'\n")


def model_tar(model_dir: Path | None, target: Path, code: dict[str, str] | None = None,
              extra: dict[str, Path] | None = None) -> Path:
    """A model.tar.gz as SageMaker expects one: the model's files at the root, the inference
    code under code/ (`extra`: more files by archive name)."""
    with tarfile.open(target, "w:gz") as tar:
        if model_dir is not None:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        for name, text in (code or {}).items():
            source = target.parent / "code-files" / name
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_text(text)
            tar.add(source, arcname=f"code/{name}")
        for name, path in (extra or {}).items():
            tar.add(path, arcname=name)
    return target


@pytest.fixture(scope="session")
def pytorch_model(tmp_path_factory) -> Path:
    """A model folder holding the state dict PYTORCH's model_fn loads (weights 1, 2, 3)."""
    import torch

    folder = tmp_path_factory.mktemp("pytorch-model")
    torch.save({"weight": torch.tensor([1.0, 2.0, 3.0])}, folder / "weights.pth")
    return folder


@dataclass
class Deployed:
    mode: str
    config: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return state(self.config)["endpoint"]["name"]

    def cli(self, *args: str, check: bool = True):
        return harness(*args, "-c", str(self.config), "--mode", self.mode, check=check)

    def runtime(self):
        """boto3's sagemaker-runtime client, exactly as docs/endpoint.md shows it."""
        import boto3

        return boto3.client("sagemaker-runtime", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")

    def post(self, body: bytes, headers: dict[str, str], path: str = "/invocations"):
        """(status, headers, body) of one raw request."""
        answer = invocations.request(invocations.local(self.port), body, headers, path)
        return answer.status, answer.headers, answer.body


def deploy_config(folder: Path, mode: str, name: str, **sections) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    endpoint = {"port": free_port(), "startup_timeout_s": 180, **sections.pop("endpoint", {})}
    return write_config(folder, name=name, endpoint=endpoint,
                        s3={"prefix": f"contract-{name}-{uuid.uuid4().hex[:8]}"}, **sections)


@pytest.fixture(scope="module")
def deploy(request, tmp_path_factory):
    """deploy(mode, name, tar, **config sections) -> Deployed, deleted at the module's end."""
    up: list[Deployed] = []

    def start(mode: str, name: str, tar: Path, **sections) -> Deployed:
        if mode == "sagemaker-local":
            request.getfixturevalue("sagemaker_local_stack")
        config = deploy_config(tmp_path_factory.mktemp(f"{mode}-{name}"), mode, name, **sections)
        endpoint = Deployed(mode, config, _port(config))
        endpoint.cli("deploy", "--model-data", str(tar))
        up.append(endpoint)
        return endpoint

    yield start
    for endpoint in up:
        endpoint.cli("delete", check=False)


def _port(config: Path) -> int:
    import yaml

    return yaml.safe_load(config.read_text())["endpoint"]["port"]


__all__ = ["minilm_classifier"]  # the reliability suite's fixture, used here too
