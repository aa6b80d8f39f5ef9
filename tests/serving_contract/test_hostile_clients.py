"""(a) The endpoint under hostile load: idle sockets, trickled headers and bodies. Connections
are bounded (one more gets a 503, no thread), and no socket outlives its deadline."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from harness.serving.limits import Limits
from tests.reliability.conftest import Served

LIMITS = Limits(max_connections=8, header_timeout_s=1, idle_timeout_s=1.5, request_timeout_s=4)
REQUEST = b'POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' \
          b'Content-Length: 17\r\n\r\n{"inputs": "ok"}\n'


@pytest.fixture
def served(tiny_classifier):
    served = Served(tiny_classifier, LIMITS)
    yield served
    served.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes `sock` (EOF or reset); fails after `seconds`."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {seconds} s")
    return time.monotonic() - started


def status_of(sock: socket.socket) -> int:
    sock.sendall(REQUEST)
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response.status


def test_connections_over_the_limit_get_503_and_no_thread(served):
    threads_before = threading.active_count()
    idle = [connect(served.port) for _ in range(LIMITS.max_connections)]
    time.sleep(0.3)
    over = [connect(served.port) for _ in range(40)]
    assert threading.active_count() <= threads_before + LIMITS.max_connections + 16 + 1
    sock = over[0]
    sock.sendall(REQUEST)
    response = http.client.HTTPResponse(sock)
    response.begin()
    assert response.status == 503
    assert "endpoint.max_connections" in json.loads(response.read())["message"]
    for sock in idle + over:
        sock.close()
    time.sleep(0.3)  # the server sees the closes and frees the slots
    with connect(served.port) as sock:
        assert status_of(sock) == 200


def test_idle_connections_are_closed(served):
    with connect(served.port) as sock:
        assert LIMITS.idle_timeout_s - 0.5 < closed_within(sock, 5) < LIMITS.idle_timeout_s + 1.5
    with connect(served.port) as sock:  # keep-alive: idle after one answer, then closed too
        assert status_of(sock) == 200
        assert closed_within(sock, 5) < LIMITS.idle_timeout_s + 1.5


def test_trickled_headers_are_cut_off(served):
    with connect(served.port) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\n")
        started = time.monotonic()
        try:
            for _ in range(40):  # one header byte every 0.2 s: each recv is quick, the whole slow
                sock.sendall(b"X")
                time.sleep(0.2)
        except OSError:
            pass
        closed_within(sock, 5)
        assert time.monotonic() - started < LIMITS.header_timeout_s + 2


def test_a_trickled_body_gets_408(served):
    with connect(served.port) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n")
        started = time.monotonic()
        sock.settimeout(0.2)
        answer = b""
        while time.monotonic() - started < 8 and not answer:
            try:
                sock.sendall(b" ")
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < LIMITS.request_timeout_s + 2
