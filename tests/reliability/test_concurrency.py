"""32 clients × 50 requests against the server process `deploy` starts: no errors, no drops,
and each answer is the one its own request would get alone (micro-batching mixes nothing up)."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from harness.host import endpoint_process
from harness.serving.limits import Limits
from tests.reliability.conftest import start_process

CLIENTS, REQUESTS = 32, 50
TEXTS = [f"review {i}: " + "a fine film with a dull middle " * (i % 7 + 1) for i in range(40)]


def positive(answer: dict) -> float:
    """P(POSITIVE), whichever label the answer names."""
    return answer["score"] if answer["label"] == "POSITIVE" else 1 - answer["score"]


def request_for(client: int, i: int) -> str | list[str]:
    """Single texts and lists of 1 or 2 texts, mixed, so that batches hold both."""
    k = client * REQUESTS + i
    if k % 3 == 0:
        return TEXTS[k % len(TEXTS)]
    return [TEXTS[(k + j) % len(TEXTS)] for j in range(k % 3)]


@pytest.fixture(scope="module")
def endpoint(tiny_classifier, tmp_path_factory):
    endpoint = start_process(tiny_classifier, tmp_path_factory.mktemp("load") / "server.log",
                             Limits())
    yield endpoint
    endpoint_process.stop(endpoint)


def test_concurrent_clients_get_every_answer_right(endpoint, tiny_classifier):
    from transformers import pipeline

    alone = pipeline("text-classification", model=str(tiny_classifier), truncation=True)
    expected = {text: positive(alone(text)[0]) for text in TEXTS}
    failures, answered, lock = [], [0], threading.Lock()

    def client(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=120)
        for i in range(REQUESTS):
            inputs = request_for(c, i)
            try:
                conn.request("POST", "/invocations", json.dumps({"inputs": inputs}),
                             {"Content-Type": "application/json"})
                response = conn.getresponse()
                status, answer = response.status, json.loads(response.read())
            except Exception as e:  # noqa: BLE001 - a reset or a broken answer is a failure
                conn.close()
                with lock:
                    failures.append(f"client {c} request {i}: {type(e).__name__}: {e}")
                continue
            texts = [inputs] if isinstance(inputs, str) else inputs
            ok = status == 200 and len(answer) == len(texts) and all(
                abs(positive(a) - expected[t]) < 1e-4 for a, t in zip(answer, texts, strict=False))
            with lock:
                answered[0] += 1
                if not ok:
                    failures.append(f"client {c} request {i}: {status} {answer} for {inputs}")
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], f"{len(failures)} failures, first: {failures[:3]}"
    assert answered[0] == CLIENTS * REQUESTS
