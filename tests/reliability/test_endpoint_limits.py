"""The endpoint's limits: request size, batch size, input length, per-request timeout."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from harness.config import load_config
from harness.errors import ConfigError
from harness.serving.limits import Limits
from tests.reliability.conftest import Served, post, with_inference
from tests.support.runs import DEFAULT_CONFIG

SLOW = '''
import time
from pathlib import Path

from harness.serving.huggingface import default_predict_fn

CALLS = Path(__file__).with_name("calls.txt")
FINISHED = Path(__file__).with_name("slow-finished.txt")


def predict_fn(data, model):
    with CALLS.open("a") as calls:
        calls.write(data["inputs"] + "\\n")
    answer = default_predict_fn(data, model)
    if data["inputs"].startswith("slow"):
        time.sleep(3)
        FINISHED.write_text("done")
    return answer
'''


@pytest.fixture(scope="module")
def small(tiny_classifier):
    served = Served(tiny_classifier, Limits(max_body_bytes=2048, max_batch_size=4))
    yield served
    served.close()


def test_batch_over_the_limit_gets_400_naming_the_key(small):
    status, answer = post(small.port, json.dumps({"inputs": ["a fine film"] * 5}))
    assert status == 400
    assert "5 items, more than the limit of 4 (endpoint.max_batch_size)" in answer["message"]
    status, answer = post(small.port, json.dumps({"inputs": ["a fine film"] * 4}))
    assert status == 200 and len(answer) == 4


def test_batch_limit_on_the_runtime_path_is_a_model_error(small):
    status, answer = post(small.port, json.dumps({"inputs": ["x"] * 5}),
                          path="/endpoints/reliability/invocations")
    assert status == 424
    assert answer["OriginalStatusCode"] == 400
    assert "endpoint.max_batch_size" in answer["OriginalMessage"]


def test_body_over_the_limit_gets_413_naming_the_key(small):
    status, answer = post(small.port, json.dumps({"inputs": "x" * 3000}))
    assert status == 413
    assert "exceeds the limit of 2048 bytes (endpoint.max_body_bytes)" in answer["message"]


@pytest.mark.parametrize("body, message", [
    ("[1, 2", "not valid JSON"),
    ('{"input": "x"}', 'expected a JSON object with an "inputs" key'),
    ('{"inputs": []}', "non-empty string or a list of strings"),
])
def test_malformed_requests_get_400_with_a_message(small, body, message):
    status, answer = post(small.port, body)
    assert status == 400
    assert message in answer["message"]


def test_long_inputs_are_truncated_to_the_model(minilm_classifier):
    served = Served(minilm_classifier, Limits())
    try:
        status, answer = post(served.port, json.dumps({"inputs": "a fine film " * 2000}))
    finally:
        served.close()
    assert status == 200, answer
    assert answer[0]["label"] in ("NEGATIVE", "POSITIVE")


def wait_until(predicate, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.fixture
def slow(tiny_classifier, tmp_path):
    model_dir = with_inference(tiny_classifier, tmp_path, SLOW)
    served = Served(model_dir, Limits(request_timeout_s=1))
    yield served, model_dir / "code"
    served.close()


def test_slow_prediction_gets_504_and_the_server_keeps_serving(slow):
    served, code = slow
    calls, finished = code / "calls.txt", code / "slow-finished.txt"
    results = {}

    def call(name: str, text: str) -> None:
        status, answer = post(served.port, json.dumps({"inputs": text}))
        results[name] = (status, answer, finished.exists())

    first = threading.Thread(target=call, args=("slow", "slow review"))
    first.start()
    # The slow one runs (the model has it); this one queues behind it.
    wait_until(lambda: calls.exists() and "slow review" in calls.read_text())
    call("queued", "queued review")
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=1)
    conn.request("GET", "/ping")  # healthy while the model is still busy
    assert conn.getresponse().status == 200
    conn.close()
    first.join()
    for name in ("slow", "queued"):
        status, answer, slow_had_finished = results[name]
        assert status == 504, (name, answer)
        assert "no prediction within 1 s (endpoint.request_timeout_s)" in answer["message"]
        assert not slow_had_finished, name  # answered while the slow prediction still ran
    wait_until(finished.exists)  # the slow prediction ends; the model is free again
    status, answer = post(served.port, json.dumps({"inputs": "a fine film"}))
    assert status == 200 and answer[0]["label"] in ("NEGATIVE", "POSITIVE")
    # the queued request timed out before its turn: the model never ran it
    assert calls.read_text().split("\n") == ["slow review", "a fine film", ""]


def test_timeout_on_the_runtime_path_is_a_model_error(slow):
    served, _ = slow
    status, answer = post(served.port, json.dumps({"inputs": "slow"}),
                          path="/endpoints/reliability/invocations")
    assert status == 424
    assert answer["OriginalStatusCode"] == 504
    assert "endpoint.request_timeout_s" in answer["OriginalMessage"]


def test_a_body_that_stops_arriving_gets_408(slow):
    served, _ = slow
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.putrequest("POST", "/invocations")
    conn.putheader("Content-Length", "100")
    conn.endheaders(b'{"inputs": ')  # then nothing more
    response = conn.getresponse()
    assert response.status == 408
    assert "did not arrive within 1 s" in json.loads(response.read())["message"]
    conn.close()


def test_limit_keys_are_validated_and_reach_the_server_environment():
    config = load_config(DEFAULT_CONFIG, ["endpoint.max_batch_size=8",
                                          "endpoint.request_timeout_s=2.5"])
    assert Limits.from_env(config.endpoint.limits.to_env()) == Limits(
        max_body_bytes=6 * 1024 * 1024, max_batch_size=8, request_timeout_s=2.5)
    with pytest.raises(ConfigError, match="endpoint.max_batch_size: Input should be greater"):
        load_config(DEFAULT_CONFIG, ["endpoint.max_batch_size=0"])
    with pytest.raises(ConfigError, match="endpoint.request_timeout: unknown key"):
        load_config(DEFAULT_CONFIG, ["endpoint.request_timeout=5"])
