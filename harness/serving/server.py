"""The HTTP server for one model: SageMaker's hosting contract (`GET /ping`, `POST
/invocations`) and the Runtime API paths boto3's `sagemaker-runtime` client calls.

Connections are bounded: at most `max_connections` are served (one thread each); one more
gets a 503 and is closed. Every read has a deadline, so a client that sends nothing, or
trickles its headers or body, is cut off (`idle_timeout_s`, `header_timeout_s`,
`request_timeout_s`), and writes time out too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.serving import eventstream
from harness.serving.content import BadRequest, Reply, server_error
from harness.serving.handler import Handler, Request
from harness.serving.limits import Limits
from harness.serving.worker import ModelWorker

logger = logging.getLogger("harness.serving")
RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/(invocations|invocations-response-stream)$")
STREAM = "invocations-response-stream"
ENDPOINT_NAME_ENV = "HARNESS_ENDPOINT_NAME"  # the name the Runtime API paths answer to
ACCOUNT = "000000000000"  # the emulated account, as in sagemaker-local's role
VARIANT = "AllTraffic"  # the SDK's name for an endpoint's only production variant
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
# The request headers SageMaker passes to the container ("it strips all POST headers except
# those supported by the API"); on the streaming path the Accept travels as its own header.
FORWARDED = ("content-type", "accept", "x-amzn-sagemaker-")
STREAM_ACCEPT = "x-amzn-sagemaker-accept"
REFUSERS = 16  # threads that answer 503 to connections over the limit, at most


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up a shutdown
    request_queue_size = socket.SOMAXCONN  # the listen backlog: socketserver's 5 resets a burst

    def __init__(self, address: tuple[str, int], handler: Handler, endpoint_name: str | None,
                 limits: Limits):
        self.endpoint_name = endpoint_name
        self.limits = limits
        self.worker = ModelWorker(handler)
        self.slots = threading.BoundedSemaphore(limits.max_connections)
        self.refusers = threading.BoundedSemaphore(REFUSERS)
        super().__init__(address, RequestHandler)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            return self._refuse(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _refuse(self, connection: socket.socket) -> None:
        if not self.refusers.acquire(blocking=False):  # a flood: no answer, no thread
            connection.close()
            return
        threading.Thread(target=self._answer_busy, args=(connection,), daemon=True).start()

    def _answer_busy(self, connection: socket.socket) -> None:
        """503, after reading what the client sent (closing on unread data would reset the
        connection before the client reads the answer)."""
        reply = server_error(503, f"the endpoint already serves {self.limits.max_connections} "
                             "connections (endpoint.max_connections); retry, or raise "
                             "endpoint.max_connections", "ServiceUnavailableException")
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n")
        try:
            with contextlib.suppress(TimeoutError):
                connection.settimeout(1)
                connection.recv(65536)
            connection.sendall(head.encode() + reply.body)
            connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline and connection.recv(65536):
                pass
        except OSError:
            pass
        finally:
            connection.close()
            self.refusers.release()

    def server_close(self) -> None:
        super().server_close()
        self.worker.stop()


class DeadlineReader(io.RawIOBase):
    """A connection's reads, each bound to end by the deadline in force: while waiting for a
    request, `idle` seconds; from its first byte, `header` seconds for the headers; then what
    the handler allows for the body."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.deadline = math.inf
        self.header_timeout_s: float | None = None

    def readable(self) -> bool:
        return True

    def await_request(self, idle_s: float, header_s: float) -> None:
        self.deadline = time.monotonic() + idle_s
        self.header_timeout_s = header_s

    def allow(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.header_timeout_s = None

    def readinto(self, buffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the connection's read deadline passed")
        self.connection.settimeout(remaining)
        count = self.connection.recv_into(buffer)
        if count and self.header_timeout_s is not None:  # a request began: its headers are due
            self.allow(self.header_timeout_s)
        return count


class RequestHandler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        limits = self.server.limits
        self.reader.await_request(limits.idle_timeout_s, limits.header_timeout_s)
        super().handle_one_request()  # a read past its deadline closes the connection

    def log_message(self, fmt: str, *args) -> None:
        logger.info("%s %s", self.address_string(), fmt % args)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(Reply(200, b'{"status": "Healthy"}\n'))
        else:
            self._send(server_error(404, f"no route GET {self.path}; use GET /ping",
                                    "ResourceNotFoundException"))

    def do_POST(self) -> None:
        runtime = RUNTIME_PATH.match(self.path)
        if self.path != "/invocations" and not runtime:
            self._drain()
            return self._send(server_error(404, f"no route POST {self.path}; use POST "
                                           "/invocations", "ResourceNotFoundException"))
        if runtime and self.server.endpoint_name not in (None, runtime.group(1)):
            self._drain()
            return self._runtime_error(400, "ValidationError", f"Endpoint {runtime.group(1)} "
                                       f"of account {ACCOUNT} not found.")
        stream = runtime is not None and runtime.group(2) == STREAM
        try:
            reply = self._predict(Request(self._read_body(), self._forwarded(runtime, stream)),
                                  stream)
        except BadRequest as e:
            kind = "BadRequestException" if e.status < 500 else "InternalServerException"
            reply = server_error(e.status, str(e), kind)
        if not runtime:
            self._send(reply)
        elif not 200 <= reply.status < 300:
            self._model_error(reply)
        elif stream:
            self._stream(reply)
        else:
            self._send(dataclasses.replace(reply, status=200, reason="",
                                           headers=self._runtime_headers(reply)))

    def _forwarded(self, runtime, stream: bool) -> dict[str, str]:
        """The request headers the hooks see: all of them on the container's own route, those
        SageMaker forwards on the Runtime API's."""
        if not runtime:
            return dict(self.headers.items())
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith(FORWARDED)}
        if stream:
            headers = {k: v for k, v in headers.items() if k.lower() != "accept"}
            headers = {("Accept" if k.lower() == STREAM_ACCEPT else k): v
                       for k, v in headers.items()}
        return headers

    def _predict(self, request: Request, stream: bool) -> Reply:
        """The handler's reply; a streamed one is gathered whole unless `stream`, so that an
        error while it is produced can still be answered as one."""
        timeout_s = self.server.limits.request_timeout_s
        deadline = time.monotonic() + timeout_s
        future = self.server.worker.submit(request)
        try:
            reply = future.result(timeout=timeout_s)
        except TimeoutError:
            if not future.cancel():  # running: a stream it makes has no reader
                future.add_done_callback(_abandon)
            raise self._too_slow() from None
        if reply.parts is None or stream:
            return reply
        body = []
        try:
            while (part := reply.parts.next(deadline - time.monotonic())) is not None:
                body.append(part)
        except TimeoutError:
            raise self._too_slow() from None
        except Exception as e:  # raised while the parts were produced
            return self.server.worker.handler.error(e)
        finally:
            reply.parts.close()
        return dataclasses.replace(reply, body=b"".join(body), parts=None)

    def _too_slow(self) -> BadRequest:
        timeout_s = self.server.limits.request_timeout_s
        return BadRequest(f"no prediction within {timeout_s:g} s (endpoint.request_timeout_s); "
                          "send fewer inputs per request or raise endpoint.request_timeout_s", 504)

    def _read_body(self) -> bytes:
        limits = self.server.limits
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise BadRequest("missing or invalid Content-Length header", 411)
        if int(length) > limits.max_body_bytes:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise BadRequest(f"body of {length} bytes exceeds the limit of "
                             f"{limits.max_body_bytes} bytes (endpoint.max_body_bytes)", 413)
        self.reader.allow(limits.request_timeout_s)
        try:
            return self.rfile.read(int(length))
        except TimeoutError:  # a client that stopped sending, or sends too slowly
            self.close_connection = True
            raise BadRequest(f"the body did not arrive within {limits.request_timeout_s:g} s",
                             408) from None

    def _drain(self) -> None:
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= self.server.limits.max_body_bytes:
            self.reader.allow(self.server.limits.request_timeout_s)
            try:
                self.rfile.read(int(length))
                return
            except TimeoutError:
                pass
        self.close_connection = True

    @staticmethod
    def _runtime_headers(reply: Reply) -> dict[str, str]:
        """What the Runtime API returns besides the body: the variant, and the model's
        CustomAttributes when the model set them (SageMaker never echoes the request's)."""
        headers = {"x-Amzn-Invoked-Production-Variant": VARIANT}
        for key, value in reply.headers.items():
            if key.lower() == CUSTOM_ATTRIBUTES.lower():
                headers[CUSTOM_ATTRIBUTES] = value
        return headers

    def _model_error(self, reply: Reply) -> None:
        """SageMaker Runtime wraps a container's error as a ModelError (HTTP 424)."""
        status, original = reply.status, reply.body.decode(errors="replace")
        kind = "client" if status < 500 else "server"
        self._runtime_error(424, "ModelError", f"Received {kind} error ({status}) from primary "
                            f"with message \"{original}\". See the endpoint's log for more "
                            "information.", OriginalStatusCode=status, OriginalMessage=original)

    def _runtime_error(self, status: int, code: str, message: str, **extra) -> None:
        body = json.dumps({"Message": message, "message": message, **extra}).encode()
        self._send(Reply(status, body, headers={"x-amzn-ErrorType": code}))

    def _stream(self, reply: Reply) -> None:
        """InvokeEndpointWithResponseStream: each part the handler yields as a PayloadPart (a
        handler that returns a whole body sends it as one); a failure, or a part that takes
        longer than `request_timeout_s`, ends the stream with a ModelStreamError."""
        self.connection.settimeout(self.server.limits.request_timeout_s)
        self.send_response(200)
        headers = {"Content-Type": eventstream.CONTENT_TYPE, "Transfer-Encoding": "chunked",
                   "X-Amzn-SageMaker-Content-Type": reply.content_type or "",
                   **self._runtime_headers(reply)}
        for key, value in headers.items():
            self.send_header(key, _header_text(value))
        self.end_headers()
        try:
            for frame in self._frames(reply):
                self._chunk(frame)
            self._chunk(b"")
        except OSError:  # the client went away, or stopped reading
            self.close_connection = True
        finally:
            if reply.parts is not None:
                reply.parts.close()

    def _frames(self, reply: Reply):
        if reply.parts is None:
            yield eventstream.payload_part(reply.body)
            return
        timeout_s = self.server.limits.request_timeout_s
        while True:
            try:
                part = reply.parts.next(timeout_s)
            except TimeoutError:
                yield eventstream.model_stream_error(
                    "Your model primary did not complete sending the inference response in "
                    f"the allotted time ({timeout_s:g} s, endpoint.request_timeout_s).",
                    "ModelInvocationTimeExceeded")
                return
            except Exception as e:
                logger.error("streaming failed: %s: %s", type(e).__name__, e)
                yield eventstream.model_stream_error(f"{type(e).__name__}: {e}", "StreamBroken")
                return
            if part is None:
                return
            yield eventstream.payload_part(part)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _send(self, reply: Reply) -> None:
        self.connection.settimeout(self.server.limits.request_timeout_s)  # a client that never reads
        self.send_response(reply.status, _header_text(reply.reason)[:500] or None)
        if reply.content_type:
            self.send_header("Content-Type", _header_text(reply.content_type))
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(_header_text(key), _header_text(value))
        self.end_headers()
        self.wfile.write(reply.body)


def _header_text(value: str) -> str:
    """What the hooks chose, sendable in a header: one line, Latin-1."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text.encode("latin-1", "replace").decode("latin-1")


def _abandon(future) -> None:
    """Stop a stream nobody waits for any more."""
    if not future.cancelled() and future.exception() is None and future.result().parts:
        future.result().parts.close()
