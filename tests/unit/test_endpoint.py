"""The hosting contract: /ping, /invocations, the Runtime API path, user hooks, bad input."""

import http.client
import json
import threading

import pytest

from harness.host import invocations
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
    answer = invocations.request(invocations.local(server.server_address[1]), body,
                                 {"Content-Type": "application/json", **(headers or {})}, path,
                                 method, timeout_s=30)
    return answer.status, answer.json()


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
    # The Hugging Face toolkit answers every handler error 400, with its own message.
    (b'{"inputs": "x"}', {"Content-Type": "text/plain"}, 400,
     "Content type text/plain is not supported by this framework"),
    (b'{"inputs": "x"}', {"Accept": "text/html"}, 400,
     "Content type text/html is not supported by this framework"),
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
    original = json.loads(error.value.response["OriginalMessage"])  # the container's own body
    assert original["code"] == 400 and '"inputs" key' in original["message"]
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ValidationError"):
        runtime.invoke_endpoint(EndpointName="other", ContentType="application/json",
                                Body=b'{"inputs": "x"}')
