"""The same cases against a `local` endpoint and a `sagemaker-local` endpoint (SDK local mode,
the container's `serve`): each model.tar.gz is deployed with `harness deploy --model-data`,
its code/inference.py written as SageMaker's docs write one, and called the way clients call
SageMaker (boto3's sagemaker-runtime, raw HTTP, `harness predict`). Every case deploys an
endpoint, in both modes: e2e (the fast, in-process checks of the same rules are in
test_toolkit_conventions.py)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap

import psutil
import pytest
from botocore.exceptions import ClientError, EventStreamError

from harness.host import endpoint_process
from tests.serving_contract.conftest import (
    FOUR_HOOKS,
    MODEL_FN_ONLY,
    MODES,
    PROBE_REQUIREMENTS,
    PYTORCH,
    REQUIRES_PROBE,
    STREAMING,
    TRANSFORM_FN,
    deploy_config,
    model_tar,
    probe_wheel,
)
from tests.support.cli import harness
from tests.support.runs import REPO, state

pytestmark = pytest.mark.e2e
TEXTS = ["a wonderful, moving film", "two dull hours"]
LABELS = {"NEGATIVE", "POSITIVE"}


@pytest.fixture(scope="module", params=MODES)
def mode(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def endpoint(mode, deploy, tiny_classifier, tmp_path_factory):
    """endpoint(name, inference.py source or None, model folder) -> deployed in `mode`."""

    def start(name: str, code: str | None, model=tiny_classifier, **sections):
        tar = model_tar(model, tmp_path_factory.mktemp(name) / "model.tar.gz",
                        code and {"inference.py": code})
        return deploy(mode, name, tar, **sections)

    return start


def invoke(endpoint, body, **kwargs):
    return endpoint.runtime().invoke_endpoint(EndpointName=endpoint.name,
                                              ContentType="application/json",
                                              Body=json.dumps(body), **kwargs)


# -- user hooks in every combination ----------------------------------------------------------

@pytest.fixture(scope="module")
def four_hooks(endpoint):
    return endpoint("four-hooks", FOUR_HOOKS)


def test_four_hooks_tuple_return_and_no_accept(four_hooks):
    response = invoke(four_hooks, {"inputs": TEXTS})  # boto3 sends no Accept
    assert response["ContentType"] == "application/json"  # output_fn's tuple
    body = json.loads(response["Body"].read())
    assert body["accept"] == "application/json"  # the toolkits' default, never ""
    assert {p["label"] for p in body["predictions"]} <= LABELS
    assert len(body["predictions"]) == 2
    assert response["InvokedProductionVariant"] == "AllTraffic"


def test_custom_attributes_reach_the_hooks_and_come_back_when_set(four_hooks):
    response = invoke(four_hooks, {"inputs": TEXTS[0]}, CustomAttributes="trace=42")
    assert response["CustomAttributes"] == "seen=trace=42"
    # SageMaker never echoes the request's value by itself: no header unless the model sets it.
    assert "CustomAttributes" not in invoke(four_hooks, {"inputs": TEXTS[0]})


def test_harness_predict_gets_the_tuple_body(four_hooks):
    answer = json.loads(four_hooks.cli("predict", *TEXTS).stdout)
    assert len(answer["predictions"]) == 2


@pytest.fixture(scope="module")
def transform(endpoint):
    return endpoint("transform-fn", TRANSFORM_FN)


def test_transform_fn_replaces_the_chain(transform):
    response = invoke(transform, {"inputs": TEXTS}, Accept="application/json")
    assert response["ContentType"] == "application/vnd.labels+json"
    assert set(json.loads(response["Body"].read())["labels"]) <= LABELS


@pytest.fixture(scope="module")
def model_fn_only(endpoint):
    return endpoint("model-fn-only", MODEL_FN_ONLY)


def test_model_fn_only_keeps_the_default_handlers(model_fn_only):
    response = invoke(model_fn_only, {"inputs": TEXTS[0]})
    assert response["ContentType"] == "application/json"
    # the user's pipeline: every label, scored (a list per text, as pipeline(str) answers)
    [scores] = json.loads(response["Body"].read())
    assert {item["label"] for item in scores} == LABELS
    assert sum(item["score"] for item in scores) == pytest.approx(1, abs=1e-4)


@pytest.fixture(scope="module")
def no_code(endpoint):
    return endpoint("no-code", None)


def test_no_code_serves_the_default_handler(no_code):
    response = invoke(no_code, {"inputs": TEXTS})
    assert response["ContentType"] == "application/json"
    assert [item["label"] in LABELS for item in json.loads(response["Body"].read())] == [True] * 2


@pytest.mark.parametrize("accept, content_type", [
    (None, "application/json"), ("*/*", "application/json"),
    ("text/html, application/json;q=0.9", "application/json"),
    ("application/json;q=0.5, text/csv", "text/csv"),
])
def test_accept_is_negotiated(no_code, accept, content_type):
    headers = {"Content-Type": "application/json", **({"Accept": accept} if accept else {})}
    status, answer, body = no_code.post(json.dumps({"inputs": TEXTS}).encode(), headers)
    assert status == 200, body
    assert answer["Content-Type"] == content_type
    if content_type == "text/csv":
        assert body.decode().splitlines()[0] == "label,score"


# The page that shows the boto3 example (docs/endpoint.md, "The endpoint").
RUNTIME_SNIPPET_PAGE = REPO / "docs" / "endpoint.md"


def runtime_snippet() -> str:
    """The docs' boto3 sagemaker-runtime example, found by its endpoint URL."""
    blocks = re.findall(r"```python\n(.*?)```", RUNTIME_SNIPPET_PAGE.read_text(), re.S)
    [snippet] = [textwrap.dedent(b) for b in blocks if "http://127.0.0.1:8080" in b]
    return snippet


def test_the_docs_snippet_works_when_copied(no_code, tmp_path):
    """The docs' boto3 example, run as a user would paste it: no AWS configuration at all."""
    snippet = runtime_snippet()
    script = tmp_path / "snippet.py"
    script.write_text(snippet.replace("http://127.0.0.1:8080", no_code.url)
                      .replace('"sentiment-minilm-endpoint"', repr(no_code.name)))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env={**clean, "AWS_CONFIG_FILE": "/nonexistent",
                                 "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    assert result.returncode == 0, result.stderr
    assert "'label'" in result.stdout


def test_wrong_endpoint_name_is_a_validation_error(no_code):
    runtime = no_code.runtime()
    for call in (runtime.invoke_endpoint, runtime.invoke_endpoint_with_response_stream):
        with pytest.raises(ClientError) as error:
            call(EndpointName="not-this-one", ContentType="application/json",
                 Body=json.dumps({"inputs": "x"}))
        assert error.value.response["Error"]["Code"] == "ValidationError"
        assert error.value.response["Error"]["Message"] == \
            "Endpoint not-this-one of account 000000000000 not found."


def test_model_errors_are_model_errors(no_code):
    runtime = no_code.runtime()
    with pytest.raises(runtime.exceptions.ModelError) as error:
        invoke(no_code, {"inputs": "x" * 20, "parameters": {"function_to_apply": "bogus"}})
    assert error.value.response["OriginalStatusCode"] == 400
    original = json.loads(error.value.response["OriginalMessage"])
    assert original["type"] == "InternalServerException"
    assert "function_to_apply" in original["message"]


def test_a_model_that_does_not_stream_answers_in_one_part(no_code):
    response = no_code.runtime().invoke_endpoint_with_response_stream(
        EndpointName=no_code.name, ContentType="application/json",
        Body=json.dumps({"inputs": TEXTS}))
    parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
    assert len(parts) == 1
    assert len(json.loads(parts[0])) == 2
    assert response["ContentType"] == "application/json"


def test_endpoint_listens_on_loopback_only(no_code):
    assert endpoint_process.listening(no_code.port)
    outside = [address.address for addresses in psutil.net_if_addrs().values()
               for address in addresses
               if address.family == socket.AF_INET and not address.address.startswith("127.")]
    assert outside, "no non-loopback IPv4 address to test from"
    for address in outside:
        assert not endpoint_process.listening(no_code.port, address), address


def test_deploying_twice_never_orphans_the_first(no_code, tmp_path):
    before = state(no_code.config)["endpoint"]
    for args in ((), ("--set", f"endpoint.port={no_code.port + 1}")):
        again = no_code.cli("deploy", *args, check=False)
        assert again.returncode == 1
        assert f"endpoint {before['name']} is already up" in again.stderr
        assert "harness delete" in again.stderr
    assert state(no_code.config)["endpoint"] == before
    assert not endpoint_process.listening(no_code.port + 1)
    assert invoke(no_code, {"inputs": "still here"})["ResponseMetadata"]["HTTPStatusCode"] == 200


# -- streaming ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def streaming(endpoint):
    return endpoint("streaming", STREAMING)


def test_a_handler_that_yields_streams_parts(streaming):
    texts = [f"review {i}" for i in range(4)]
    response = streaming.runtime().invoke_endpoint_with_response_stream(
        EndpointName=streaming.name, ContentType="application/json",
        Body=json.dumps({"inputs": texts}), CustomAttributes="ignored")
    assert response["ContentType"] == "application/jsonlines"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    parts = [json.loads(event["PayloadPart"]["Bytes"]) for event in response["Body"]]
    assert [part["text"] for part in parts] == texts
    # the same handler on InvokeEndpoint: the parts, joined
    whole = invoke(streaming, {"inputs": texts})
    lines = whole["Body"].read().decode().splitlines()
    assert [json.loads(line)["text"] for line in lines] == texts


def test_a_stream_that_fails_ends_with_a_model_stream_error(streaming):
    response = streaming.runtime().invoke_endpoint_with_response_stream(
        EndpointName=streaming.name, ContentType="application/json",
        Body=json.dumps({"inputs": ["fine", 7]}))  # the pipeline fails on the second part
    events = iter(response["Body"])
    assert json.loads(next(events)["PayloadPart"]["Bytes"])["text"] == "fine"
    with pytest.raises(EventStreamError) as error:
        next(events)
    assert error.value.response["Error"]["Code"] == "ModelStreamError"


# -- requirements.txt --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def probe_tar(tiny_classifier, tmp_path_factory):
    folder = tmp_path_factory.mktemp("requirements")
    wheel = probe_wheel(folder / "wheels")
    return model_tar(tiny_classifier, folder / "model.tar.gz",
                     {"inference.py": REQUIRES_PROBE, "requirements.txt": PROBE_REQUIREMENTS},
                     extra={f"code/wheels/{wheel.name}": wheel})


def test_requirements_are_installed_in_containers_and_checked_locally(mode, deploy, probe_tar,
                                                                      tmp_path):
    if mode == "sagemaker-local":  # the container pip-installs it before the model loads
        endpoint = deploy(mode, "requirements", probe_tar)
        answer = json.loads(invoke(endpoint, {"inputs": "x"})["Body"].read())
        assert answer == {"probe": "installed by pip from requirements.txt"}
        return
    # local mode serves from this Python environment, which harness does not change unasked
    config = deploy_config(tmp_path, mode, "requirements")
    refused = harness("deploy", "-c", str(config), "--model-data", str(probe_tar), check=False)
    assert refused.returncode == 1
    assert "requirements.txt is not met by this Python environment" in refused.stderr
    assert "harness-probe-pkg==1.0 (not installed)" in refused.stderr
    assert "-m pip install -r" in refused.stderr and "--install-requirements" in refused.stderr
    recorded = tmp_path / "run" / "state.json"
    assert not recorded.exists() or not json.loads(recorded.read_text()).get("endpoint")


# -- the PyTorch toolkit's conventions ---------------------------------------------------------

@pytest.fixture(scope="module")
def torch_endpoint(endpoint, pytorch_model):
    return endpoint("pytorch", PYTORCH, pytorch_model, framework="pytorch")


def test_pytorch_convention_decodes_arrays_and_encodes_tensors(torch_endpoint):
    response = invoke(torch_endpoint, [[1, 1, 1], [2, 2, 2]], Accept="application/json")
    assert response["ContentType"] == "application/json"
    assert json.loads(response["Body"].read()) == [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]
    status, headers, body = torch_endpoint.post(b"1,1,1\n2,2,2\n", {"Content-Type": "text/csv",
                                                                      "Accept": "text/csv"})
    assert (status, headers["Content-Type"], body) == (200, "text/csv",
                                                        b"1.0,2.0,3.0\n2.0,4.0,6.0\n")


def test_pytorch_errors_are_500_with_the_traceback(torch_endpoint):
    status, headers, body = torch_endpoint.post(b"[1, 2]", {"Content-Type": "application/json"})
    assert status == 500
    assert "Content-Type" not in headers
    message, _, trace = body.decode().partition("\n")
    assert "size of tensor" in message and trace.startswith("Traceback")
