"""Content types as the inference toolkits treat them, and the errors a request can end in."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)  # bodies the toolkits hand to input_fn as str, not bytes
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"


class BadRequest(Exception):
    """A request answered with an error status: 4xx when the request is at fault, 504 when no
    prediction came in time. The message says why and what to do."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class UnsupportedFormat(Exception):
    """The toolkits' UnsupportedFormatError, with their message."""

    def __init__(self, content_type: str | None):
        super().__init__(
            f"Content type {content_type} is not supported by this framework.\n\n"
            "            Please implement input_fn to to deserialize the request data or an "
            "output_fn to\n            serialize the response. For more information, see the "
            "SageMaker Python SDK README.")


class UnsupportedOutput(Exception):
    """A handler returned what the model server cannot send (its 503)."""

    def __init__(self):
        super().__init__("Unsupported model output data type.")


def default_accept(accept: str | None) -> str:
    """The Accept the hooks see: a missing header or exactly `*/*` becomes
    `$SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT` (application/json), as in the toolkits."""
    if not accept or accept == ANY:
        return os.environ.get(DEFAULT_ACCEPT_ENV) or JSON
    return accept


def negotiate(accept: str, supported: Sequence[str]) -> str | None:
    """The type of `supported` that `accept` prefers, by q-value (RFC 9110), ties in header
    order; `*/*` and `type/*` match the first supported type they cover; `q=0` excludes.

    The toolkits split on commas and compare each entry literally, so `application/json;q=0.9`
    never matches there; harness parses q-values (a documented deviation)."""
    ranked = []
    for position, entry in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranked):
        kind = media.split("/")[0]
        for candidate in supported:
            if media in (candidate, ANY) or (media == f"{kind}/*"
                                             and candidate.startswith(f"{kind}/")):
                return candidate
    return None


def as_text(data: str | bytes) -> str:
    """A request body as text (UTF-8)."""
    return data.decode() if isinstance(data, bytes) else data


def as_bytes(data: str | bytes) -> bytes:
    """A request body as bytes (UTF-8)."""
    return data.encode() if isinstance(data, str) else data


def to_bytes(value) -> bytes:
    """A handler's return value as the model server sends it: bytes as they are, str as UTF-8,
    anything else as indented JSON; what JSON cannot hold is refused (the server's 503)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    try:
        return json.dumps(value, indent=2).encode("utf-8")
    except (TypeError, ValueError):
        raise UnsupportedOutput() from None


@dataclass
class Reply:
    """What goes back for one request: a body, or `parts` (an iterator the model thread runs,
    for a streamed answer)."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    parts: Any = None  # the handler's parts (an iterator); the server gets them as a Stream


def server_error(status: int, message: str, kind: str = "InternalServerException") -> Reply:
    """An error as the model server (MMS, TorchServe) sends it: pretty JSON with code, type and
    message, HTML-sensitive characters escaped as Gson escapes them."""
    text = json.dumps({"code": status, "type": kind, "message": message}, indent=2)
    for char in "<>&='":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return Reply(status, f"{text}\n".encode(), JSON)
