"""The toolkits' behaviour, case by case, on the real server in this process: how user code is
found, how hooks are called, what a return value becomes, and how errors are shaped, for the
Hugging Face and the PyTorch conventions."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest

from harness.host import invocations
from harness.serving.content import negotiate
from harness.serving.handler import Handler, Request
from harness.serving.limits import Limits
from tests.reliability.conftest import Served, with_inference
from tests.serving_contract.conftest import PYTORCH


def call(port: int, body: bytes, headers: dict[str, str], path: str = "/invocations"):
    """(status, reason, headers, body): a whole answer, or the test fails on a cut-off one."""
    answer = invocations.request(invocations.local(port), body, headers, path, timeout_s=30)
    return answer.status, answer.reason, answer.headers, answer.body


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def serve(tmp_path):
    """serve(model_dir, framework="huggingface", **limits) -> port of a server in this process."""
    started = []

    def start(model_dir, framework="huggingface", **limits):
        served = Served(model_dir, Limits(**limits), framework=framework)
        started.append(served)
        return served.port

    yield start
    for served in started:
        served.close()


# -- finding the user's code --------------------------------------------------------------------

ECHO = '''
def model_fn(model_dir):
    return "{name}"

def transform_fn(model, body, content_type, accept):
    return model
'''


@pytest.mark.parametrize("program, expected", [
    (None, "inference"), ("", "inference"),  # the SDK's HuggingFaceModel sends "" without one
    ("other.py", "other"), ("other", "other"),
])
def test_user_code_follows_sagemaker_program(tiny_classifier, tmp_path, monkeypatch, program,
                                             expected):
    model_dir = with_inference(tiny_classifier, tmp_path, ECHO.format(name="inference"),
                               {"other.py": ECHO.format(name="other")})
    if program is None:
        monkeypatch.delenv("SAGEMAKER_PROGRAM", raising=False)
    else:
        monkeypatch.setenv("SAGEMAKER_PROGRAM", program)
    assert Handler(model_dir)(Request(b"", JSON)).body == expected.encode()


def test_submit_directory_is_searched_before_model_code(tiny_classifier, tmp_path, monkeypatch):
    model_dir = with_inference(tiny_classifier, tmp_path, ECHO.format(name="in model"))
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    (mounted / "inference.py").write_text(ECHO.format(name="mounted"))
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", str(mounted))
    assert Handler(model_dir)(Request(b"", JSON)).body == b"mounted"
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", "s3://bucket/sourcedir.tar.gz")  # not here
    assert Handler(model_dir)(Request(b"", JSON)).body == b"in model"


def test_a_missing_program_falls_back_to_the_defaults_with_a_warning(tiny_classifier, tmp_path,
                                                                     monkeypatch, caplog):
    model_dir = with_inference(tiny_classifier, tmp_path, ECHO.format(name="inference"))
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "absent.py")
    with caplog.at_level(logging.WARNING, logger="harness.serving"):
        handler = Handler(model_dir)
    assert "serving with the default handlers" in caplog.text
    assert handler.model.task == "text-classification"


# -- calling the hooks ----------------------------------------------------------------------------

@pytest.mark.parametrize("framework, message", [
    ("huggingface", "predict_fn definition takes 2 or 3 arguments but 1 were given."),
    ("pytorch", "predict_fn takes 1 arguments but 2 were given."),
])
def test_hooks_with_the_wrong_arity_are_refused_in_the_toolkits_words(
        tiny_classifier, tmp_path, framework, message):
    model_dir = with_inference(tiny_classifier, tmp_path,
                               "def model_fn(model_dir):\n    return 1\n"
                               "def predict_fn(data):\n    return data\n")
    with pytest.raises(TypeError, match=message):
        Handler(model_dir, framework=framework)


def test_transform_fn_with_the_chain_is_refused(tiny_classifier, tmp_path):
    model_dir = with_inference(tiny_classifier, tmp_path, '''
def transform_fn(model, body, content_type, accept): ...
def predict_fn(data, model): ...
''')
    with pytest.raises(ValueError, match="Cannot use transform_fn implementation in conjunction "
                                         "with input_fn, predict_fn, and/or output_fn"):
        Handler(model_dir)


CONTEXT = '''
def model_fn(model_dir, context):
    return context.system_properties["model_dir"]

def input_fn(body, content_type, context):
    return {"body": body, "type": content_type,
            "attributes": context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")}

def predict_fn(data, model):
    return {**data, "model": model}

def output_fn(prediction, accept, context):
    context.set_response_status(201, "Made")
    context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "back")
    return prediction
'''


def test_hooks_get_the_context_and_set_the_response(tiny_classifier, tmp_path, serve):
    model_dir = with_inference(tiny_classifier, tmp_path, CONTEXT)
    port = serve(model_dir)
    status, reason, headers, body = call(port, b'{"a": 1}', {
        **JSON, "X-Amzn-SageMaker-Custom-Attributes": "c=1"})
    assert (status, reason) == (201, "Made")
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == "back"
    # a dict is sent as the model server sends any non-bytes value: indented JSON
    assert body == json.dumps({"body": '{"a": 1}', "type": "application/json",
                               "attributes": "c=1", "model": str(model_dir)}, indent=2).encode()
    assert headers["Content-Type"] == "application/json"  # the default Accept


# -- what a return value becomes ------------------------------------------------------------------

RETURNS = '''
import json

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    kind = json.loads(body)["kind"]
    if kind == "tuple":
        return b"\\x89PNG", "image/png"
    if kind == "str":
        return "caf\\u00e9"
    if kind == "object":
        return object()
    return {"accept": accept}
'''


@pytest.mark.parametrize("kind, accept, status, content_type, body", [
    ("tuple", "application/json", 200, "image/png", b"\x89PNG"),
    ("str", "text/plain", 200, "text/plain", "café".encode()),
    ("dict", None, 200, "application/json", b'{\n  "accept": "application/json"\n}'),
    ("dict", "*/*", 200, "application/json", b'{\n  "accept": "application/json"\n}'),
])
def test_return_values_become_the_response(tiny_classifier, tmp_path, serve, kind, accept, status,
                                           content_type, body):
    port = serve(with_inference(tiny_classifier, tmp_path, RETURNS))
    headers = {**JSON, **({"Accept": accept} if accept else {})}
    got = call(port, json.dumps({"kind": kind}).encode(), headers)
    assert (got[0], got[2]["Content-Type"], got[3]) == (status, content_type, body)
    assert int(got[2]["Content-Length"]) == len(body)


def test_an_unsendable_return_value_is_a_whole_503_not_a_cut_off_reply(tiny_classifier, tmp_path,
                                                                       serve):
    port = serve(with_inference(tiny_classifier, tmp_path, RETURNS))
    status, _, headers, body = call(port, b'{"kind": "object"}', JSON)
    assert status == 503
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body)["message"] == "Unsupported model output data type."
    assert call(port, b'{"kind": "tuple"}', JSON)[0] == 200  # and it keeps serving


def test_the_default_accept_comes_from_the_environment(tiny_classifier, tmp_path, serve,
                                                       monkeypatch):
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    port = serve(tiny_classifier)
    status, _, headers, body = call(port, b'{"inputs": "fine"}', JSON)
    assert (status, headers["Content-Type"]) == (200, "text/csv")
    assert body.decode().splitlines()[0] == "label,score"


# -- the Hugging Face toolkit's decoders, encoders and errors -------------------------------------

def test_hf_csv_and_npy_requests(tiny_classifier, serve):
    port = serve(tiny_classifier)
    status, _, _, body = call(port, b"inputs\na fine film\na dull film\n",
                              {"Content-Type": "text/csv"})
    assert status == 200 and len(json.loads(body)) == 2
    status, _, _, body = call(port, b"text\nno header the toolkit knows\n",
                              {"Content-Type": "text/csv"})
    assert status == 400
    assert "correct CSV with Header columns" in json.loads(body)["message"]
    status, _, headers, body = call(port, b'{"inputs": ["a", "b"]}',
                                    {**JSON, "Accept": "application/x-npy"})
    assert (status, headers["Content-Type"]) == (200, "application/x-npy")
    assert np.load(io.BytesIO(body), allow_pickle=True).shape == (2,)


@pytest.mark.parametrize("headers, message", [
    ({}, "Content type None is not supported by this framework"),
    ({"Content-Type": "application/json; charset=utf-8"},  # compared literally, as there
     "Content type application/json; charset=utf-8 is not supported"),
    ({**JSON, "Accept": "text/html"}, "Content type text/html is not supported"),
])
def test_hf_errors_are_400_with_the_model_servers_json(tiny_classifier, serve, headers, message):
    status, _, answer, body = call(serve(tiny_classifier), b'{"inputs": "x"}', headers)
    assert (status, answer["Content-Type"]) == (400, "application/json")
    error = json.loads(body)
    assert (error["code"], error["type"]) == (400, "InternalServerException")
    assert message in error["message"]


# -- (c) pipeline arguments are the client's ------------------------------------------------------

@pytest.mark.parametrize("parameters, named", [
    ({"truncation": False}, "truncation"),  # a long input the model cannot take
    ({"function_to_apply": "bogus"}, "function_to_apply"),
])
def test_pipeline_argument_errors_are_400(minilm_classifier, serve, parameters, named):
    port = serve(minilm_classifier)
    body = json.dumps({"inputs": "a fine film " * 400, "parameters": parameters}).encode()
    status, _, _, answer = call(port, body, JSON)
    assert status == 400, answer
    message = json.loads(answer)["message"]
    assert "the model rejected the request" in message and named in message
    assert call(port, b'{"inputs": "ok"}', JSON)[0] == 200


# -- (b) Accept with q-values ---------------------------------------------------------------------

@pytest.mark.parametrize("accept, chosen", [
    ("text/html, application/json;q=0.9", "application/json"),
    ("application/json;q=0.4, text/csv;q=0.8", "text/csv"),
    ("text/csv, application/json", "text/csv"),  # equal q: header order
    ("application/json;q=0, text/*", "text/csv"),  # q=0 excludes; a range matches
    ("*/*;q=0.1", "application/json"),
    ("text/html", None),
    ("application/json;q=abc", None),
])
def test_accept_q_values(accept, chosen):
    assert negotiate(accept, ("application/json", "text/csv", "application/x-npy")) == chosen


def test_q_values_reach_the_default_encoder(tiny_classifier, serve):
    status, _, headers, _ = call(serve(tiny_classifier), b'{"inputs": "x"}',
                                 {**JSON, "Accept": "text/html, application/json;q=0.9"})
    assert (status, headers["Content-Type"]) == (200, "application/json")


# -- the PyTorch toolkit ---------------------------------------------------------------------------

def test_pytorch_npy_and_default_output(pytorch_model, tmp_path, serve):
    port = serve(with_inference(pytorch_model, tmp_path, PYTORCH), "pytorch")
    buffer = io.BytesIO()
    np.save(buffer, np.ones((1, 3), dtype=np.float32))
    status, _, headers, body = call(port, buffer.getvalue(), {
        "Content-Type": "application/x-npy", "Accept": "application/x-npy"})
    assert (status, headers["Content-Type"]) == (200, "application/x-npy")
    assert np.load(io.BytesIO(body)).tolist() == [[1.0, 2.0, 3.0]]


def test_pytorch_errors_carry_their_status_and_traceback(pytorch_model, tmp_path, serve):
    model_dir = with_inference(pytorch_model, tmp_path, PYTORCH + '''

class Refused(Exception):  # as sagemaker_inference.errors.BaseInferenceToolkitError carries one
    status_code = 422

def input_fn(body, content_type):
    raise Refused("no\\nthanks")
''')
    status, reason, headers, body = call(serve(model_dir, "pytorch"), b"[1]", JSON)
    assert (status, reason) == (422, "no thanks")
    assert "Content-Type" not in headers
    assert body.decode().startswith("no\nthanks\nTraceback (most recent call last):")


def test_pytorch_without_model_fn_needs_torchscript(pytorch_model, tmp_path):
    with pytest.raises(ValueError, match="Failed to load .*weights.pth.*torchscript"):
        Handler(pytorch_model, framework="pytorch")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"Exactly one .pth or .pt file is required.*model_fn"):
        Handler(empty, framework="pytorch")
