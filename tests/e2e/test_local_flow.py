"""`harness run --mode local` on the offline default config, as the README runs it."""

import json
import tarfile
from pathlib import Path

import pytest

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import DEFAULT_CONFIG

pytestmark = pytest.mark.e2e


def test_run_local_default_config(tmp_path):
    port = free_port()
    result = harness("run", "-c", str(DEFAULT_CONFIG), "--mode", "local",
                     "--set", f"run_dir={tmp_path / 'run'}", "--set", f"endpoint.port={port}")
    run = json.loads((tmp_path / "run" / "state.json").read_text())

    model_tar = Path(run["training"]["model_artifact"])
    assert model_tar.name == "model.tar.gz" and model_tar.is_file()
    model_dir = tmp_path / "unpacked"
    with tarfile.open(model_tar) as tar:
        tar.extractall(model_dir, filter="data")
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir))
    assert classify("An absolute delight, I loved it.")[0]["label"] == "POSITIVE"

    with tarfile.open(run["training"]["output_artifact"]) as tar:
        metrics = json.load(tar.extractfile("data/metrics.json"))
    assert metrics["eval_accuracy"] >= 0.80
    assert {"eval_f1", "eval_precision", "eval_recall"} <= set(metrics)

    response = run["prediction"]["response"]
    assert len(response) == 2
    assert all(item["label"] in ("NEGATIVE", "POSITIVE") and 0 <= item["score"] <= 1
               for item in response)
    assert not endpoint_process.listening(port)
    assert run["endpoint"] is None
    assert Path(run["plot"]).is_file()
    assert "Summary (local mode" in result.stdout and f"127.0.0.1:{port}" in result.stdout
    assert set(run["timings"]) == {"prepare", "train", "deploy", "predict", "delete"}
