"""Servers for the reliability tests: the real server, in this process or as `deploy` starts it."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from harness.host import endpoint_process, invocations
from harness.host.endpoint_process import free_port
from harness.serving.handler import Handler
from harness.serving.limits import Limits
from harness.serving.server import ModelServer


class Served:
    """A ModelServer on a free port, in a thread of this process."""

    def __init__(self, model_dir: Path, limits: Limits, name: str = "reliability",
                 framework: str = "huggingface"):
        self.server = ModelServer(("127.0.0.1", 0),
                                  Handler(model_dir, limits.max_batch_size, framework), name, limits)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def post(port: int, body: bytes | str, path: str = "/invocations", timeout_s: float = 30):
    """(status, parsed JSON answer) of one POST on a fresh connection."""
    answer = invocations.request(invocations.local(port), body,
                                 {"Content-Type": "application/json"}, path, timeout_s=timeout_s)
    return answer.status, answer.json()


def with_inference(model_dir: Path, folder: Path, source: str,
                   more: dict[str, str] | None = None) -> Path:
    """A copy of `model_dir` with a user `code/inference.py` (and `more` files in code/), as
    shipped in model.tar.gz."""
    target = folder / "model"
    shutil.copytree(model_dir, target)
    (target / "code").mkdir()
    for name, text in {"inference.py": source, **(more or {})}.items():
        (target / "code" / name).write_text(text)
    return target


def start_process(model_dir: Path, log: Path, limits: Limits, startup_timeout_s: float = 60):
    """The server as `harness deploy` starts it in local mode."""
    port = free_port()
    command = endpoint_process.serve_command(model_dir, name="reliability", port=port)
    return endpoint_process.start(command, name="reliability", port=port,
                                startup_timeout_s=startup_timeout_s, log=log,
                                env={**os.environ, **limits.to_env()})


@pytest.fixture(scope="session")
def minilm_classifier(tmp_path_factory) -> Path:
    """MiniLM with a fresh 2-label head: a real tokenizer/model pair with 512 positions."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tests.support.runs import LABELS, minilm_dir

    folder = tmp_path_factory.mktemp("minilm-classifier")
    AutoModelForSequenceClassification.from_pretrained(
        minilm_dir(), num_labels=2, id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)}).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(folder)
    return folder
