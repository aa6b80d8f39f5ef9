"""The endpoint's limits, passed to the server as environment variables, as SageMaker
configures a serving container (the first two names are the inference toolkit's own)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

ENV = {"max_body_bytes": "SAGEMAKER_MAX_REQUEST_SIZE",
       "request_timeout_s": "SAGEMAKER_MODEL_SERVER_TIMEOUT",
       "max_batch_size": "HARNESS_MAX_BATCH_SIZE",
       "max_connections": "HARNESS_MAX_CONNECTIONS",
       "header_timeout_s": "HARNESS_HEADER_TIMEOUT_S",
       "idle_timeout_s": "HARNESS_IDLE_TIMEOUT_S"}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 6 * 1024 * 1024  # SageMaker's payload limit
    max_batch_size: int = 32  # items in one request's "inputs"
    request_timeout_s: float = 60.0  # SageMaker's invocation timeout
    max_connections: int = 128  # open connections; one more is answered 503 and closed
    header_timeout_s: float = 10.0  # from a request's first byte to the end of its headers
    idle_timeout_s: float = 60.0  # a keep-alive connection with no request is closed

    @classmethod
    def from_env(cls, environ=os.environ) -> Limits:
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(ENV[field.name])
            if raw is None:
                continue
            try:
                values[field.name] = float(raw) if field.type in (float, "float") else int(raw)
            except ValueError:
                raise SystemExit(f"{ENV[field.name]}={raw!r}: expected a number "
                                 f"({type(field.default).__name__})") from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {ENV[field.name]: str(getattr(self, field.name)) for field in fields(self)}
