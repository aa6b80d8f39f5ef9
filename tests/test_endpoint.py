"""The hosting contract: /ping, /invocations, the Runtime API path, user hooks, bad input."""

import http.client
import json
import threading

import pytest

from harness.serving.handler import Handler
from harness.serving.limits import Limits
from harness.serving.server import ModelServer

NAME = "sentiment-endpoint"


@pytest.fixture(scope="module")
def server(tiny_classifier):
    srv = ModelServer(("127.0.0.1", 0), Handler(tiny_classifier), NAME, Limits(max_body_bytes=4096))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(server, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.request(method, path, body=body,
                 headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, json.loads(payload) if payload else None


def test_ping(server):
    assert request(server, "GET", "/ping")[0] == 200


@pytest.mark.parametrize("inputs", ["a great film", ["a great film", "dull and long"]])
def test_invocations_text_classification(server, inputs):
    status, body = request(server, "POST", "/invocations", json.dumps({"inputs": inputs}))
    assert status == 200
    expected = 1 if isinstance(inputs, str) else len(inputs)
    assert len(body) == expected
    for item in body:
        assert item["label"] in ("NEGATIVE", "POSITIVE")
        assert 0.0 <= item["score"] <= 1.0


def test_parameters_reach_the_pipeline(server):
    status, body = request(server, "POST", "/invocations",
                           json.dumps({"inputs": "fine", "parameters": {"top_k": 2}}))
    assert status == 200
    assert sorted(item["label"] for item in body) == ["NEGATIVE", "POSITIVE"]
    assert sum(item["score"] for item in body) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("body, headers, status, message", [
    (b"{not json", {}, 400, "not valid JSON"),
    (b'{"text": "x"}', {}, 400, '"inputs" key'),
    (b'{"inputs": 5}', {}, 400, "non-empty string or a list of strings"),
    (b'{"inputs": "x", "parameters": [1]}', {}, 400, '"parameters" must be'),
    (b'{"inputs": "x", "parameters": {"truncation": "maybe"}}', {}, 400, "rejected"),
    (b'\xff\xfe{"inputs": "x"}', {}, 400, "not valid UTF-8"),
    (b"x" * 5000, {}, 413, "exceeds the limit of 4096 bytes"),
    (b'{"inputs": "x"}', {"Content-Type": "text/csv"}, 415, "unsupported content type"),
    (b'{"inputs": "x"}', {"Accept": "text/csv"}, 406, "unsupported accept type"),
])
def test_bad_requests_get_4xx_and_server_keeps_serving(server, body, headers, status, message):
    got, answer = request(server, "POST", "/invocations", body, headers)
    assert got == status
    assert message in answer["message"]
    assert request(server, "POST", "/invocations", b'{"inputs": "ok"}')[0] == 200


def test_oversized_body_is_refused_before_it_is_read(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.putrequest("POST", "/invocations")
    conn.putheader("Content-Length", str(10 ** 9))
    conn.endheaders()  # the gigabyte is never sent: the server must not wait for it
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


def test_unknown_route(server):
    assert request(server, "GET", "/health")[0] == 404
    assert request(server, "POST", "/predict", b"{}")[0] == 404


@pytest.fixture
def runtime(server):
    """boto3's sagemaker-runtime client, unchanged, pointed at the local server."""
    import boto3

    return boto3.client("sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
                        region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local")


def test_sagemaker_runtime_client_works_unchanged(runtime):
    response = runtime.invoke_endpoint(EndpointName=NAME, ContentType="application/json",
                                       Accept="application/json",
                                       Body=json.dumps({"inputs": "what a film"}))
    body = json.loads(response["Body"].read())
    assert body[0]["label"] in ("NEGATIVE", "POSITIVE")


def test_sagemaker_runtime_errors_are_model_errors(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as error:
        runtime.invoke_endpoint(EndpointName=NAME, ContentType="application/json",
                                Body=b'{"text": "x"}')
    assert error.value.response["OriginalStatusCode"] == 400
    assert '"inputs" key' in error.value.response["OriginalMessage"]
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ValidationError"):
        runtime.invoke_endpoint(EndpointName="other", ContentType="application/json",
                                Body=b'{"inputs": "x"}')


def write_inference(model_dir, tmp_path, source):
    """A copy of the model with `code/inference.py`, as users ship it in model.tar.gz."""
    import shutil

    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    (target / "code").mkdir()
    (target / "code" / "inference.py").write_text(source)
    return target


def test_user_hooks_override_the_defaults(tiny_classifier, tmp_path):
    model_dir = write_inference(tiny_classifier, tmp_path, '''
import json
def model_fn(model_dir):
    return {"dir": model_dir}
def input_fn(body, content_type):
    return body.decode().upper()
def predict_fn(data, model):
    return {"echo": data, "loaded_from": model["dir"]}
def output_fn(prediction, accept):
    return json.dumps(prediction)
''')
    handler = Handler(model_dir)
    result = json.loads(handler(b"hello", "text/plain", "application/json"))
    assert result == {"echo": "HELLO", "loaded_from": str(model_dir)}


def test_transform_fn_replaces_the_chain(tiny_classifier, tmp_path):
    model_dir = write_inference(tiny_classifier, tmp_path, '''
def transform_fn(model, body, content_type, accept):
    return b"%d labels" % len(model.model.config.id2label)
''')
    assert Handler(model_dir)(b"", "application/json", "application/json") == b"2 labels"


def test_transform_fn_with_other_hooks_is_refused(tiny_classifier, tmp_path):
    model_dir = write_inference(tiny_classifier, tmp_path, '''
def transform_fn(model, body, content_type, accept): ...
def predict_fn(data, model): ...
''')
    with pytest.raises(ValueError, match="transform_fn together with"):
        Handler(model_dir)
