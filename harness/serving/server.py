"""A threaded HTTP server for one model, speaking SageMaker's hosting contract."""

from __future__ import annotations

import json
import logging
import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.serving.handler import BadRequest, Handler
from harness.serving.limits import Limits
from harness.serving.worker import ModelWorker

logger = logging.getLogger("harness.serving")
RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = socket.SOMAXCONN  # the listen backlog: socketserver's 5 resets a burst

    def __init__(self, address: tuple[str, int], handler: Handler, endpoint_name: str | None,
                 limits: Limits):
        self.endpoint_name = endpoint_name
        self.limits = limits
        self.worker = ModelWorker(handler)
        super().__init__(address, RequestHandler)

    def server_close(self) -> None:
        super().server_close()
        self.worker.stop()


class RequestHandler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.limits.request_timeout_s  # a stalled client cannot hold a thread
        super().setup()

    def log_message(self, fmt: str, *args) -> None:
        logger.info("%s %s", self.address_string(), fmt % args)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(200, b"", "text/plain")
        else:
            self._error(404, f"no route GET {self.path}; use GET /ping")

    def do_POST(self) -> None:
        runtime = RUNTIME_PATH.match(self.path)
        if self.path != "/invocations" and not runtime:
            self._drain()
            return self._error(404, f"no route POST {self.path}; use POST /invocations")
        if runtime and self.server.endpoint_name not in (None, runtime.group(1)):
            self._drain()
            return self._runtime_error(400, "ValidationError",
                                       f"Endpoint {runtime.group(1)} not found; this server "
                                       f"hosts {self.server.endpoint_name}")
        try:
            result = self._predict(self._read_body())
        except BadRequest as e:
            return self._model_error(runtime, e.status, str(e))
        except Exception as e:  # a bug in the model or user code: report it, keep serving
            logger.exception("prediction failed")
            return self._model_error(runtime, 500, f"{type(e).__name__}: {e}")
        if isinstance(result, str):
            result = result.encode()
        self._send(200, result, "application/json")

    def _predict(self, body: bytes) -> bytes | str:
        future = self.server.worker.submit((body, self.headers.get("Content-Type", ""),
                                            self.headers.get("Accept", "")))
        timeout_s = self.server.limits.request_timeout_s
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            future.cancel()  # still queued: the model never sees it
            raise BadRequest(f"no prediction within {timeout_s:g} s (endpoint.request_timeout_s); "
                             "send fewer inputs per request or raise endpoint.request_timeout_s",
                             504) from None

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise BadRequest("missing or invalid Content-Length header", 411)
        if int(length) > self.server.limits.max_body_bytes:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise BadRequest(f"body of {length} bytes exceeds the limit of "
                             f"{self.server.limits.max_body_bytes} bytes "
                             "(endpoint.max_body_bytes)", 413)
        try:
            return self.rfile.read(int(length))
        except TimeoutError:  # the socket's timeout: a client that stopped sending
            self.close_connection = True
            raise BadRequest(f"the body did not arrive within "
                             f"{self.server.limits.request_timeout_s:g} s", 408) from None

    def _drain(self) -> None:
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= self.server.limits.max_body_bytes:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _model_error(self, runtime, status: int, message: str) -> None:
        if not runtime:
            return self._error(status, message)
        # SageMaker Runtime wraps a container's error as a ModelError (HTTP 424).
        kind = "client" if status < 500 else "server"
        self._runtime_error(424, "ModelError",
                            f"Received {kind} error ({status}) from model with message "
                            f"\"{message}\"", OriginalStatusCode=status, OriginalMessage=message)

    def _runtime_error(self, status: int, code: str, message: str, **extra) -> None:
        body = json.dumps({"Message": message, "message": message, **extra}).encode()
        self._send(status, body, "application/json", {"x-amzn-ErrorType": code})

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"code": status, "message": message}).encode(),
                   "application/json")

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
