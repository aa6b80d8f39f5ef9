"""A causal LM of the user's own (code/): a training script and an inference.py written the
SageMaker way, knowing nothing of harness, trained, deployed and asked in `local` mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import state

HERE = Path(__file__).parent


@pytest.mark.e2e
def test_own_causal_lm_trains_deploys_and_generates(tmp_path):
    config, port = tmp_path / "gpt.yaml", free_port()
    config.write_text(yaml.safe_dump({
        "name": "user-gpt", "framework": "pytorch", "source_dir": str(HERE / "code"),
        "entry_point": "train_gpt.py", "inputs": {"train": str(HERE / "data")},
        "hyperparameters": {"steps": 150},
        "inference": {"source_dir": str(HERE / "code"), "entry_point": "inference.py"},
        "endpoint": {"port": port, "startup_timeout_s": 90,
                     "sample_inputs": ["the cat"]},
        "run_dir": str(tmp_path / "run")}))
    harness("train", "-c", str(config))
    harness("deploy", "-c", str(config))
    try:
        answer = json.loads(harness("predict", "-c", str(config), "--json",
                                    '{"inputs": "the dog", "parameters": {"max_new_tokens": 12}}'
                                    ).stdout)
    finally:
        harness("delete", "-c", str(config))
    assert answer == [{"generated_text": " sat on the "}]  # the greedy, memorised line
    assert state(config)["endpoint"] is None
    assert not endpoint_process.listening(port)  # the endpoint process is gone
