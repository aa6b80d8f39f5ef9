"""The one client of an endpoint's `POST /invocations` (and `GET /ping`): harness's commands,
batch transform and the tests all call endpoints through it."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.errors import StepError

PATH = "/invocations"
JSON = "application/json"


@dataclass(frozen=True)
class Answer:
    """A whole HTTP answer, whatever its status."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def decoded(self) -> Any:
        """JSON when the answer says so, else text."""
        if self.content_type.split(";")[0].strip() == JSON:
            return self.json()
        return self.body.decode(errors="replace")


def request(url: str, body: bytes | str = b"", headers: dict[str, str] | None = None,
            path: str = PATH, method: str = "POST", timeout_s: float = 60) -> Answer:
    """One request on a fresh connection to the server at `url` (`http://host:port`). Raises
    OSError or http.client.HTTPException when no whole answer comes back."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    try:
        conn.request(method, parts.path.rstrip("/") + path, body, headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.reason, dict(response.getheaders()),
                      response.read())
    finally:
        conn.close()


def local(port: int) -> str:
    """The URL of a server on this machine's loopback."""
    return f"http://127.0.0.1:{port}"


def invoke(url: str, payload: Any, timeout_s: float = 120) -> Any:
    """The endpoint's answer to a JSON request: decoded JSON, or text for another type. A
    refusal, an error status or a cut-off answer is a StepError."""
    try:
        answer = request(url, json.dumps(payload), {"Content-Type": JSON, "Accept": JSON},
                         timeout_s=timeout_s)
    except ConnectionRefusedError:
        raise StepError(f"cannot reach the endpoint at {url}: connection refused",
                        "run `harness deploy` first") from None
    except (http.client.HTTPException, OSError) as e:  # a broken or cut-off answer
        raise StepError(f"the endpoint at {url} sent no complete answer: {e!r}",
                        "see the endpoint's log") from None
    if answer.status >= 400:
        raise StepError(f"the endpoint answered {answer.status}: "
                        f"{answer.body.decode(errors='replace')}")
    return answer.decoded()


def runtime_client(url: str):
    """boto3's `sagemaker-runtime` client for an endpoint served on this machine."""
    import boto3

    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def stream(client, endpoint_name: str, payload: Any) -> Iterator[bytes]:
    """The parts of InvokeEndpointWithResponseStream's answer to a JSON request, as they come.
    An error status, or a ModelStreamError mid-stream, is a StepError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.invoke_endpoint_with_response_stream(
            EndpointName=endpoint_name, ContentType=JSON, Body=json.dumps(payload))
        for event in response["Body"]:
            if "PayloadPart" in event:
                yield event["PayloadPart"]["Bytes"]
    except ClientError as e:
        raise StepError(f"the endpoint's stream failed: {e}", "see the endpoint's log") from None
    except BotoCoreError as e:
        raise StepError(f"cannot stream from the endpoint {endpoint_name}: {e}",
                        "run `harness deploy` first") from None


def streamed_text(parts: Iterator[bytes]) -> Iterator[str]:
    """The text of a server-sent event stream as TGI and vLLM send it: each token's text (TGI's
    `token.text`, OpenAI's `choices[0].delta.content`); parts that are not events, as text."""
    buffer = b""
    for part in parts:
        buffer += part
        if not buffer.startswith(b"data:"):
            yield buffer.decode(errors="replace")
            buffer = b""
            continue
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            data = event.removeprefix(b"data:").strip()
            if data == b"[DONE]":
                return
            yield token_text(json.loads(data))


def token_text(event: dict) -> str:
    if isinstance(event.get("token"), dict):
        return event["token"].get("text") or ""
    choices = event.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""
