"""The Hugging Face inference toolkit's conventions (sagemaker-huggingface-inference-toolkit):
a `pipeline` for `HF_TASK` (or the task the architecture implies), `{"inputs", "parameters"}`
requests, its decoders and encoders, and every failure answered 400 with the model server's
JSON error."""

from __future__ import annotations

import base64
import csv
import datetime
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.serving import generation
from harness.serving.content import (
    CSV,
    JSON,
    NPY,
    BadRequest,
    Reply,
    UnsupportedFormat,
    UnsupportedOutput,
    as_bytes,
    as_text,
    negotiate,
    server_error,
)
from harness.serving.convention import CHAIN, Convention

BATCHED_TASK = "text-classification"  # where one call on many inputs answers each as alone
# Suffix -> task; the toolkit scans them all and the last match wins.
ARCHITECTURES_2_TASK = {
    "TapasForQuestionAnswering": "table-question-answering",
    "ForQuestionAnswering": "question-answering",
    "ForTokenClassification": "token-classification",
    "ForSequenceClassification": "text-classification",
    "ForMultipleChoice": "multiple-choice",
    "ForMaskedLM": "fill-mask",
    "ForCausalLM": "text-generation",
    "ForConditionalGeneration": "text2text-generation",
    "MTModel": "text2text-generation",
    "EncoderDecoderModel": "text2text-generation",
    "GPT2LMHeadModel": "text-generation",
    "T5WithLMHeadModel": "text2text-generation",
}
IMAGE_TYPES = ("image/png", "image/jpeg", "image/tiff", "image/bmp", "image/gif", "image/webp",
               "image/x-image")
AUDIO_TYPES = ("audio/x-flac", "audio/mpeg", "audio/wave", "audio/ogg", "audio/x-audio")
FEATURE_EXTRACTOR_TASKS = ("automatic-speech-recognition", "audio-classification",
                           "image-classification", "image-segmentation", "object-detection",
                           "zero-shot-image-classification")


def infer_task(model_dir: Path) -> str:
    """`HF_TASK`, else the task of the model's architecture (then written to `HF_TASK`)."""
    if os.environ.get("HF_TASK"):
        return os.environ["HF_TASK"]
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise ValueError(f"You need to define the task as env 'HF_TASK': {model_dir} has no "
                         "config.json to infer it from (set HF_TASK in inference.env)")
    architecture = (json.loads(config_file.read_text()).get("architectures") or [None])[0]
    task = None
    for suffix, candidate in ARCHITECTURES_2_TASK.items():
        if architecture and architecture.endswith(suffix):
            task = candidate
    if task is None:
        raise ValueError(f"Task couldn't be inferenced from {architecture}. Inference Toolkit "
                         "can only inference tasks from architectures ending with "
                         f"{list(ARCHITECTURES_2_TASK)}. Use env `HF_TASK` to define your task "
                         "(inference.env in the config).")
    os.environ["HF_TASK"] = task
    return task


def default_model_fn(model_dir: str):
    from transformers import pipeline

    task = infer_task(Path(model_dir))
    loader = "feature_extractor" if task in FEATURE_EXTRACTOR_TASKS else "tokenizer"
    # harness: inputs longer than the model takes are cut to fit, not refused; a request may
    # still send `"parameters": {"truncation": false}`.
    defaults = {"truncation": True} if task == BATCHED_TASK else {}
    return pipeline(task, model=model_dir, device=device(),  # type: ignore[call-overload]
                    **{loader: model_dir}, **defaults)


def device() -> int:
    import torch

    return 0 if torch.cuda.is_available() else -1


def default_input_fn(data: str | bytes, content_type: str | None) -> Any:
    if content_type == JSON:
        try:
            return json.loads(data)
        except json.JSONDecodeError as e:
            raise BadRequest(f"body is not valid JSON: {e}") from None
    if content_type == CSV:
        return _decode_csv(as_text(data))
    if content_type == NPY:
        import numpy as np

        return np.load(io.BytesIO(as_bytes(data)), allow_pickle=False)
    if content_type in IMAGE_TYPES:
        from PIL import Image

        return {"inputs": Image.open(io.BytesIO(as_bytes(data))).convert("RGB")}
    if content_type in AUDIO_TYPES:
        return {"inputs": data}
    raise UnsupportedFormat(content_type)


def _decode_csv(text: str) -> dict:
    header = text.splitlines()[0].lower() if text else ""
    if not any(column in header for column in ("question", "context", "inputs")):
        raise BadRequest("You need to provide the correct CSV with Header columns to use it "
                         "with the inference toolkit default handler.")
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and "inputs" in rows[0]:
        return {"inputs": [row["inputs"] for row in rows]}
    return {"inputs": rows}


def parse_request(data: Any) -> tuple[str | list[str], dict[str, Any]]:
    """`inputs` and `parameters` of a text-classification request, checked."""
    if not isinstance(data, dict) or "inputs" not in data:
        raise BadRequest('expected a JSON object with an "inputs" key, e.g. {"inputs": "text"}')
    refuse_generation_request(data, BATCHED_TASK)
    inputs, parameters = data["inputs"], data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be a JSON object of pipeline keyword arguments')
    if not inputs or not (isinstance(inputs, str) or
                          (isinstance(inputs, list) and all(isinstance(i, str) for i in inputs))):
        raise BadRequest('"inputs" must be a non-empty string or a list of strings')
    return inputs, parameters


def refuse_generation_request(data: Any, task: str | None) -> None:
    """A stream or a chat sent to a model that does not generate text: 400 with the reason."""
    if not isinstance(data, dict):
        return
    if data.get("stream"):
        raise BadRequest(f"this model cannot generate text (its task is {task}), so there are "
                         'no tokens to stream; send the request without "stream"')
    if "messages" in data:
        raise BadRequest(f"this model cannot generate text (its task is {task}), so it does not "
                         'take the Messages API\'s "messages"; send {"inputs": ...}')


def default_predict_fn(data: Any, model) -> Any:
    task = getattr(model, "task", None)
    if task == generation.TASK:
        return generation.predict(data, model)
    refuse_generation_request(data, task)
    if task == BATCHED_TASK:  # harness checks the request's shape first
        inputs, parameters = parse_request(data)
    elif isinstance(data, dict):  # the toolkit: everything but "parameters" when no "inputs"
        data = dict(data)
        inputs, parameters = data.pop("inputs", data), data.pop("parameters", None) or {}
    else:
        raise BadRequest('expected a JSON object, e.g. {"inputs": ..., "parameters": {...}}')
    try:
        return model(inputs, **parameters)
    except Exception as e:  # the toolkit answers 400 too: bad inputs or pipeline arguments
        raise BadRequest(f"the model rejected the request (parameters {json.dumps(parameters)}): "
                         f"{type(e).__name__}: {e}; check \"inputs\" and the pipeline "
                         "arguments in \"parameters\"") from None


class _Encoder(json.JSONEncoder):
    """numpy and torch values, datetimes and images, as the toolkit's encoder writes them."""

    def default(self, value):
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            return value.item()
        if hasattr(value, "tolist"):
            return value.tolist()
        if isinstance(value, (datetime.date, datetime.time)):
            return str(value)
        if hasattr(value, "save") and hasattr(value, "mode"):  # a PIL image
            return base64.b64encode(_image_bytes(value, "png")).decode()
        return super().default(value)


def _image_bytes(image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if kind in ("x-image", "png") else kind.upper())
    return buffer.getvalue()


def _encode(prediction: Any, content_type: str) -> str | bytes:
    if content_type == JSON:
        try:
            return json.dumps(prediction, cls=_Encoder, ensure_ascii=False, allow_nan=False,
                              separators=(",", ":"))
        except (TypeError, ValueError):
            raise UnsupportedOutput() from None
    if content_type == CSV:
        rows = prediction if isinstance(prediction, list) else [prediction]
        stream = io.StringIO()
        writer = csv.DictWriter(stream, rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)
        return stream.getvalue()
    if content_type == NPY:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.array(prediction))
        return buffer.getvalue()
    return _image_bytes(prediction, content_type.split("/")[1])


ENCODED = (JSON, CSV, NPY, *IMAGE_TYPES)


def default_output_fn(prediction: Any, accept: str) -> tuple[str | bytes | Iterator, str]:
    """Encoded for the Accept type it prefers (q-values parsed, unlike the toolkit, which looks
    the whole header up as one type), sent with that type. A token stream is sent as
    server-sent events, whatever the Accept."""
    if isinstance(prediction, Iterator):
        return prediction, generation.SSE
    content_type = negotiate(accept, ENCODED)
    if content_type is None:
        raise UnsupportedFormat(accept)
    return _encode(prediction, content_type), content_type


def error(e: Exception) -> Reply:
    """Every failure in the handler is HTTP 400 with the model server's JSON error (the
    toolkit wraps each in `PredictionException(str(e), 400)`); the server's own 503 stays."""
    if isinstance(e, UnsupportedOutput):
        return server_error(503, str(e))
    return server_error(e.status if isinstance(e, BadRequest) else 400, str(e))


CONVENTION = Convention(
    name="huggingface", hooks=("model_fn", *CHAIN, "transform_fn"),
    model_fn=default_model_fn, input_fn=default_input_fn, predict_fn=default_predict_fn,
    output_fn=default_output_fn,
    arity_message=lambda name, given, arguments: (
        f"{name} definition takes {arguments} or {arguments + 1} arguments but {given} were "
        "given."),
    error=error)
