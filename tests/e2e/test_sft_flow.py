"""`harness run -c configs/sft-tiny.yaml`: the tiny LLM fine-tuned with LoRA learns its
question/answer pairs, and its endpoint answers both request shapes and streams, in each
emulated mode."""

import json
from pathlib import Path

import pytest

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import REPO

pytestmark = pytest.mark.e2e
CONFIG = REPO / "configs" / "sft-tiny.yaml"
MEMORISED = 0.9  # the share of training questions answered word for word


@pytest.mark.parametrize("mode", ["local", "sagemaker-local"])
def test_sft_tiny_memorises_its_answers_and_streams(tmp_path, mode, request):
    if mode == "sagemaker-local":
        request.getfixturevalue("sagemaker_local_stack")
    port = free_port()
    options = ["-c", str(CONFIG), "--mode", mode, "--set", f"run_dir={tmp_path / 'run'}",
               "--set", f"endpoint.port={port}", "--set", f"s3.prefix=e2e-sft-{mode}"]
    harness("run", *options)
    run = json.loads((tmp_path / "run" / "state.json").read_text())
    assert [len(answer) for answer in run["prediction"]["response"]] == [1, 1]
    assert run["prediction"]["response"][0] == [{"generated_text": "Paris."}]
    assert not endpoint_process.listening(port)

    harness("deploy", *options)
    try:
        rows = [json.loads(line) for line in
                (REPO / "data" / "sft" / "train.jsonl").read_text().splitlines()]
        right = 0
        for row in rows:
            question, answer = (turn["content"] for turn in row["messages"])
            body = {"messages": [{"role": "user", "content": question}], "max_tokens": 40}
            reply = json.loads(harness("predict", *options, "--json", json.dumps(body)).stdout)
            right += reply["choices"][0]["message"]["content"] == answer
        assert right / len(rows) >= MEMORISED, f"{right} of {len(rows)} answered"

        streamed = harness("predict", *options, "--stream", "--json", json.dumps(
            {"messages": [{"role": "user", "content": "What do bees make?"}]}))
        assert streamed.stdout == "Honey.\n"
    finally:
        harness("delete", *options)
    assert not endpoint_process.listening(port)
    assert Path(run["training"]["model_artifact"]).name == "model.tar.gz"
