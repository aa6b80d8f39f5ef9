"""Serving code for train_linear.py's model, as the inference toolkits load it from
model.tar.gz's code/: {"inputs": ["1.5", ...]} -> [{"x": 1.5, "y": ...}, ...]. The PyTorch
toolkit's default input_fn makes a float tensor of the JSON, so a dict needs its own."""

import json
import os

import torch


def model_fn(model_dir):
    model = torch.nn.Linear(1, 1)
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
    return model.eval()


def input_fn(request_body, request_content_type):
    if request_content_type == "application/json":
        return json.loads(request_body)
    raise ValueError(f"unsupported content type: {request_content_type}")


def predict_fn(data, model):
    inputs = data["inputs"] if isinstance(data["inputs"], list) else [data["inputs"]]
    xs = [float(value) for value in inputs]
    with torch.no_grad():
        ys = model(torch.tensor(xs).unsqueeze(1)).squeeze(1).tolist()
    return [{"x": x, "y": round(y, 4)} for x, y in zip(xs, ys, strict=True)]
