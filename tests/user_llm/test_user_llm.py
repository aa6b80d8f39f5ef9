"""A causal LM of the user's own (code/): a training script and an inference.py written the
SageMaker way, knowing nothing of harness, trained, deployed, asked (the TGI request and the
Messages API) and deleted in `local` and `sagemaker-local`, nothing left behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import left_behind, state

HERE = Path(__file__).parent


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["local", "sagemaker-local"])
def test_own_causal_lm_trains_deploys_and_generates(tmp_path, mode, request):
    if mode == "sagemaker-local":
        request.getfixturevalue("sagemaker_local_stack")
    started = time.time()
    config, port = tmp_path / "gpt.yaml", free_port()
    config.write_text(yaml.safe_dump({
        "name": "user-gpt", "framework": "pytorch", "source_dir": str(HERE / "code"),
        "entry_point": "train_gpt.py", "inputs": {"train": str(HERE / "data")},
        "hyperparameters": {"steps": 150},
        "inference": {"source_dir": str(HERE / "code"), "entry_point": "inference.py"},
        "endpoint": {"port": port, "startup_timeout_s": 90,
                     "sample_inputs": ["the cat"]},
        "s3": {"prefix": f"e2e-user-gpt-{mode}"},
        "run_dir": str(tmp_path / "run")}))
    options = ["-c", str(config), "--mode", mode]
    harness("train", *options)
    harness("deploy", *options)
    try:
        answer = json.loads(harness("predict", *options, "--json",
                                    '{"inputs": "the dog", "parameters": {"max_new_tokens": 12}}'
                                    ).stdout)
        chat = json.loads(harness("predict", *options, "--json", json.dumps(
            {"messages": [{"role": "user", "content": "the dog"}], "max_tokens": 12})).stdout)
    finally:
        harness("delete", *options)
    assert answer == [{"generated_text": " sat on the "}]  # the greedy, memorised line
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": " sat on the "}
    assert chat["usage"]["completion_tokens"] == 12
    assert state(config)["endpoint"] is None
    assert not endpoint_process.listening(port)  # the endpoint process is gone
    if mode == "sagemaker-local":
        assert left_behind(tmp_path / "run", started) == []
