"""The PyTorch inference toolkit's conventions (sagemaker-pytorch-inference on the base
sagemaker-inference toolkit): `model_fn` loads the model (by default a TorchScript `model.pt`),
requests are JSON, CSV or NPY arrays decoded to tensors, predictions are encoded back to JSON,
CSV or NPY, and an error is answered with its status (500 unless it carries one) and a
plain-text body of its message and traceback."""

from __future__ import annotations

import io
import json
import traceback
from pathlib import Path
from typing import Any

from harness.serving.content import (
    CSV,
    JSON,
    NPY,
    UTF8_TYPES,
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

NPZ = "application/x-npz"
MODEL_FILE = "model.pt"


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_model_fn(model_dir: str):
    """The toolkit's default: the TorchScript `model.pt`, or the folder's only .pt/.pth file."""
    import torch

    path = Path(model_dir) / MODEL_FILE
    if not path.exists():
        candidates = sorted(p.name for p in Path(model_dir).iterdir()
                            if p.suffix in (".pt", ".pth"))
        if len(candidates) != 1:
            raise ValueError(f"Exactly one .pth or .pt file is required for PyTorch models: "
                             f"{candidates}. Define model_fn(model_dir) in code/inference.py, "
                             "or save a TorchScript model as model.pt")
        path = path.with_name(candidates[0])
    try:
        return torch.jit.load(str(path), map_location=_device())
    except RuntimeError as e:
        raise ValueError(f"Failed to load {path}. Please ensure model is saved using "
                         "torchscript, or define model_fn(model_dir) in code/inference.py") from e


def decode(data: str | bytes, content_type: str | None):
    """A numpy array, as the base toolkit's decoder makes one."""
    import numpy as np

    if content_type == JSON:
        return np.array(json.loads(data))
    if content_type == CSV:
        return np.genfromtxt(io.StringIO(as_text(data)), delimiter=",")
    if content_type == NPY:
        return np.load(io.BytesIO(as_bytes(data)), allow_pickle=False)
    if content_type == NPZ:
        import scipy.sparse

        return scipy.sparse.load_npz(io.BytesIO(as_bytes(data))).toarray()
    raise UnsupportedFormat(content_type)


def default_input_fn(data: str | bytes, content_type: str | None):
    import torch

    array = decode(data, content_type)
    tensor = torch.FloatTensor(array) if content_type in UTF8_TYPES else torch.from_numpy(array)
    return tensor.to(_device())


def default_predict_fn(data, model):
    import torch

    with torch.no_grad():
        model = model.to(_device())
        model.eval()
        return model(data.to(_device()))


def encode(prediction: Any, content_type: str) -> bytes:
    import numpy as np

    if content_type == JSON:
        return json.dumps(prediction, default=_tolist).encode()
    if content_type == CSV:
        text = io.StringIO()
        np.savetxt(text, prediction, delimiter=",", fmt="%s")
        return text.getvalue().encode()
    stream = io.BytesIO()
    np.save(stream, prediction)
    return stream.getvalue()


def _tolist(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Tensors as lists, encoded for the Accept type it prefers among JSON, CSV and NPY (the
    toolkit takes the first it supports in header order, q-values unparsed) and sent with that
    type (the toolkit sends the whole Accept header as the Content-Type)."""
    if hasattr(prediction, "detach"):
        prediction = prediction.detach().cpu().numpy().tolist()
    content_type = negotiate(accept, (JSON, CSV, NPY))
    if content_type is None:
        raise UnsupportedFormat(accept)
    return encode(prediction, content_type), content_type


def error(e: Exception) -> Reply:
    """The base toolkit's `handle_error`: the error's status (an exception's `status_code`, as
    its BaseInferenceToolkitError carries, else 500), the message without line breaks as the
    reason phrase, and `message\\ntraceback` as a plain-text body with no Content-Type."""
    if isinstance(e, UnsupportedOutput):
        return server_error(503, str(e))
    status = e.status if isinstance(e, BadRequest) else getattr(e, "status_code", 500)
    message = str(e)
    trace = "".join(traceback.format_exception(e))
    return Reply(status if isinstance(status, int) else 500, f"{message}\n{trace}".encode(),
                 None, reason=message.replace("\r", " ").replace("\n", " "))


CONVENTION = Convention(
    name="pytorch", hooks=("model_fn", *CHAIN, "transform_fn", "pre_model_fn", "model_warmup_fn"),
    model_fn=default_model_fn, input_fn=default_input_fn, predict_fn=default_predict_fn,
    output_fn=default_output_fn,
    arity_message=lambda name, given, arguments: (
        f"{name} takes {given} arguments but {arguments} were given."),
    error=error)
