"""Serving code for training/train.py's model, as SageMaker's inference toolkits load it from
model.tar.gz's code/. Rows of features in: CSV lines, or JSON {"inputs": [[x1, x2], ...]} (a
row may also be a CSV string, "x1,x2"). {"predictions": [y, ...]} out, or CSV lines with
Accept: text/csv."""

import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)


def parse_row(row):
    return [float(v) for v in (row.split(",") if isinstance(row, str) else row)]


def input_fn(body, content_type):
    if isinstance(body, bytes):
        body = body.decode()
    if content_type == "text/csv":
        return [parse_row(line) for line in body.splitlines() if line.strip()]
    if content_type == "application/json":
        rows = json.loads(body)["inputs"]
        return [parse_row(row) for row in (rows if isinstance(rows, list) else [rows])]
    raise ValueError(f"unsupported content type {content_type}: send text/csv or application/json")


def predict_fn(rows, model):
    weights = model["weights"]
    for row in rows:
        if len(row) != len(weights):
            raise ValueError(f"each row needs {len(weights)} features, got {len(row)}: {row}")
    return [sum(w * x for w, x in zip(weights, row, strict=False)) + model["bias"] for row in rows]


def output_fn(predictions, accept):
    if accept == "text/csv":
        return "\n".join(f"{y:.6f}" for y in predictions) + "\n", "text/csv"
    return json.dumps({"predictions": predictions}), "application/json"
