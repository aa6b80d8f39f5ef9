"""The Hugging Face inference toolkit's handler: default pipeline plus user hooks.

A user module (`code/inference.py` in the model folder, or `$SAGEMAKER_PROGRAM`) may override
`model_fn(model_dir)`, `input_fn(data, content_type)`, `predict_fn(data, model)` and
`output_fn(prediction, accept)`, or define `transform_fn(model, data, content_type, accept)`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from harness.serving.limits import Limits

JSON = "application/json"
HOOKS = ("input_fn", "predict_fn", "output_fn")
BATCHED_TASK = "text-classification"  # where one call on many inputs answers each as alone


class BadRequest(Exception):
    """A request answered with an error: `status` is the HTTP status (4xx: the request is at
    fault; 504: no prediction in time), the message says why and what to do."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def infer_task(model_dir: Path) -> str:
    """`HF_TASK`, else the task implied by the model's architecture, as the toolkit does."""
    if os.environ.get("HF_TASK"):
        return os.environ["HF_TASK"]
    config_file = model_dir / "config.json"
    architectures = json.loads(config_file.read_text()).get("architectures") or []
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        return "text-classification"
    raise ValueError(f"cannot infer the task from {config_file} (architectures "
                     f"{architectures}); set HF_TASK")


def default_model_fn(model_dir: str):
    from transformers import pipeline

    task = infer_task(Path(model_dir))
    # Inputs longer than the model takes are cut to fit, not refused; a request may still
    # send `"parameters": {"truncation": false}`.
    defaults = {"truncation": True} if task == BATCHED_TASK else {}
    return pipeline(task, model=model_dir, device=_device(), **defaults)


def _device() -> int:
    import torch

    return 0 if torch.cuda.is_available() else -1


def default_input_fn(body: bytes, content_type: str) -> Any:
    if content_type.split(";")[0].strip() not in (JSON, ""):
        raise BadRequest(f"unsupported content type {content_type!r}; send {JSON}", 415)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"body is not valid UTF-8: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None


def parse_request(data: Any) -> tuple[str | list[str], dict[str, Any]]:
    """`inputs` and `parameters` of a request, checked."""
    if not isinstance(data, dict) or "inputs" not in data:
        raise BadRequest('expected a JSON object with an "inputs" key, e.g. {"inputs": "text"}')
    inputs, parameters = data["inputs"], data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be a JSON object of pipeline keyword arguments')
    if not inputs or not (isinstance(inputs, str) or
                          (isinstance(inputs, list) and all(isinstance(i, str) for i in inputs))):
        raise BadRequest('"inputs" must be a non-empty string or a list of strings')
    return inputs, parameters


def default_predict_fn(data: Any, model) -> Any:
    inputs, parameters = parse_request(data)
    try:
        return model(inputs, **parameters)
    except (TypeError, ValueError) as e:
        raise BadRequest(f"the model rejected the request: {e}") from None


def default_output_fn(prediction: Any, accept: str) -> bytes:
    if accept.split(";")[0].strip() not in (JSON, "*/*", ""):
        raise BadRequest(f"unsupported accept type {accept!r}; accept {JSON}", 406)
    return json.dumps(prediction).encode()


def load_user_module(model_dir: Path):
    """The user's inference module from `code/`, or None."""
    script = model_dir / "code" / os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
    if not script.is_file():
        return None
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Handler:
    """Loads the model once; turns a request body into a response body."""

    def __init__(self, model_dir: str | Path, max_batch_size: int = Limits.max_batch_size):
        model_dir = Path(model_dir)
        self.max_batch_size = max_batch_size
        user = load_user_module(model_dir)

        def hook(name: str, default: Callable) -> Callable:
            return getattr(user, name, None) or default

        self.transform_fn = getattr(user, "transform_fn", None)
        if self.transform_fn and any(hasattr(user, h) for h in HOOKS):
            raise ValueError("inference.py defines transform_fn together with "
                             f"{'/'.join(HOOKS)}; define one or the other")
        self.input_fn = hook("input_fn", default_input_fn)
        self.predict_fn = hook("predict_fn", default_predict_fn)
        self.output_fn = hook("output_fn", default_output_fn)
        self.model = hook("model_fn", default_model_fn)(str(model_dir))
        defaults = (default_input_fn, default_predict_fn, default_output_fn)
        self.batchable = (not self.transform_fn and getattr(self.model, "task", "") == BATCHED_TASK
                          and (self.input_fn, self.predict_fn, self.output_fn) == defaults)

    def __call__(self, body: bytes, content_type: str, accept: str) -> bytes:
        if self.transform_fn:
            return self.transform_fn(self.model, body, content_type, accept)
        data = self.check_batch_size(self.input_fn(body, content_type))
        prediction = self.predict_fn(data, self.model)
        return self.output_fn(prediction, accept)

    def check_batch_size(self, data: Any) -> Any:
        inputs = data.get("inputs") if isinstance(data, dict) else None
        if isinstance(inputs, list) and len(inputs) > self.max_batch_size:
            raise BadRequest(f'"inputs" has {len(inputs)} items, more than the limit of '
                             f"{self.max_batch_size} (endpoint.max_batch_size); split the "
                             "request or raise endpoint.max_batch_size")
        return data
