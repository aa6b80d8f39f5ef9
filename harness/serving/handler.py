"""One model and its hooks: a request in, a reply out, as the SageMaker inference toolkits run
them (see convention.py; `framework` picks huggingface.py or pytorch.py).

A user module (see user_code.py) may define `model_fn(model_dir)`, `input_fn(data,
content_type)`, `predict_fn(data, model)` and `output_fn(prediction, accept)`, or
`transform_fn(model, data, content_type, accept)` instead of the last three; each may take a
`context` as one more argument. `output_fn` and `transform_fn` may return `(body,
content_type)`, and may return a generator (or `(generator, content_type)`) to stream.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.serving import huggingface, pytorch, user_code
from harness.serving.content import (
    UTF8_TYPES,
    BadRequest,
    Reply,
    default_accept,
    to_bytes,
)
from harness.serving.context import Context, RequestProcessor
from harness.serving.convention import CHAIN, CONFLICT
from harness.serving.limits import Limits

CONVENTIONS = {"huggingface": huggingface.CONVENTION, "pytorch": pytorch.CONVENTION}
FRAMEWORK_ENV = "HARNESS_FRAMEWORK"  # whose conventions; SageMaker picks them with the image


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]  # as received; the hooks' context sees them

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    @property
    def accept(self) -> str:
        return default_accept(self.header("Accept"))


class Handler:
    """Loads the model once; answers each request with a `Reply`, errors included."""

    def __init__(self, model_dir: str | Path, max_batch_size: int = Limits.max_batch_size,
                 framework: str = "huggingface"):
        import torch

        model_dir = str(model_dir)
        self.convention = CONVENTIONS[framework]
        self.max_batch_size = max_batch_size
        self.context = Context(model_dir, 0 if torch.cuda.is_available() else None)
        user = user_code.load(model_dir)
        found = {name: getattr(user, name) for name in self.convention.hooks
                 if callable(getattr(user, name, None))}
        if "transform_fn" in found and found.keys() & set(CHAIN):
            raise ValueError(CONFLICT)
        hooks = {name: self.convention.bind(name, function, self.context)
                 for name, function in found.items()}
        self.transform_fn = hooks.get("transform_fn")
        self.input_fn = hooks.get("input_fn", self.convention.input_fn)
        self.predict_fn = hooks.get("predict_fn", self.convention.predict_fn)
        self.output_fn = hooks.get("output_fn", self.convention.output_fn)
        if "pre_model_fn" in hooks:
            hooks["pre_model_fn"](model_dir)
        self.model = hooks.get("model_fn", self.convention.model_fn)(model_dir)
        if "model_warmup_fn" in hooks:
            hooks["model_warmup_fn"](model_dir, self.model)
        self.batchable = (self.convention is huggingface.CONVENTION
                          and getattr(self.model, "task", None) == huggingface.BATCHED_TASK
                          and not found.keys() & {"transform_fn", *CHAIN})

    def __call__(self, request: Request) -> Reply:
        processor = self.context.begin(request.headers)
        try:
            if self.transform_fn:
                result = self.transform_fn(self.model, self._data(request),
                                           request.content_type, request.accept)
            else:
                result = self.output_fn(self.predict_fn(self.decode(request), self.model),
                                        request.accept)
            return self.reply(result, request.accept, processor)
        except Exception as e:
            return self.error(e)

    def decode(self, request: Request) -> Any:
        return self.check_batch_size(self.input_fn(self._data(request), request.content_type))

    def finish(self, prediction: Any, request: Request) -> Reply:
        """The reply for a prediction made outside `__call__` (a micro-batch's share)."""
        try:
            return self.reply(self.output_fn(prediction, request.accept), request.accept)
        except Exception as e:
            return self.error(e)

    def error(self, e: Exception) -> Reply:
        return self.convention.error(e)

    @staticmethod
    def reply(result: Any, accept: str, processor: RequestProcessor | None = None) -> Reply:
        """A hook's result as the toolkits send it: `(body, content_type)` or a body sent as
        the Accept type; the status and headers the hooks set through their context."""
        body, content_type = result if isinstance(result, tuple) and len(result) == 2 \
            else (result, accept)
        status, reason, headers = 200, "", {}
        if processor:
            status = processor.get_response_status_code()
            reason = processor.get_response_status_phrase()
            headers = {k: v for k, v in processor.get_response_headers().items()
                       if k.lower() != "content-type"}  # the toolkits set it last
        if isinstance(body, Iterator) and not isinstance(body, io.IOBase):  # a generator
            return Reply(status, b"", str(content_type), headers, reason, parts=body)
        return Reply(status, to_bytes(body), str(content_type), headers, reason)

    @staticmethod
    def _data(request: Request) -> str | bytes:
        """JSON and CSV bodies reach the hooks as str, others as bytes, as in the toolkits."""
        if request.content_type not in UTF8_TYPES:
            return request.body
        try:
            return request.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRequest(f"body is not valid UTF-8: {e}") from None

    def check_batch_size(self, data: Any) -> Any:
        inputs = data.get("inputs") if isinstance(data, dict) else None
        if isinstance(inputs, list) and len(inputs) > self.max_batch_size:
            raise BadRequest(f'"inputs" has {len(inputs)} items, more than the limit of '
                             f"{self.max_batch_size} (endpoint.max_batch_size); split the "
                             "request or raise endpoint.max_batch_size")
        return data
