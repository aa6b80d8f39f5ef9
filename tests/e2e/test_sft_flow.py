"""`harness run -c configs/sft-tiny.yaml`: the tiny LLM fine-tuned with LoRA learns its
question/answer pairs, and its endpoint answers both request shapes and streams, in each
emulated mode."""

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import REPO, read_object

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


RANK_LINE = re.compile(r"sft INFO host (\S+) of (\S+): process (\d) of (\d) \(local (\d)\)")
SAVED_LINE = re.compile(r"sft INFO merged model saved to \S+ on host (\S+)")


@pytest.mark.parametrize("mode, scale", [("local", "modes.local.processes=2"),
                                         ("sagemaker-local", "modes.sagemaker-local.instance_count=2")])
def test_sft_scales_out_to_two_ranks_and_saves_once(tmp_path, mode, scale, request):
    """Data-parallel SFT (torchrun, gloo on CPU): two processes on this machine, or two
    containers as two instances; both ranks train, rank 0 alone saves the merged model."""
    stack = request.getfixturevalue("sagemaker_local_stack") if mode == "sagemaker-local" else None
    harness("train", "-c", str(CONFIG), "--mode", mode, "--set", f"run_dir={tmp_path / 'run'}",
            "--set", scale, "--set", "hyperparameters.max_steps=6", "--set",
            "hyperparameters.logging_steps=3", "--set", f"s3.prefix=e2e-sft-scale-{mode}")
    log = (tmp_path / "run" / "train.log").read_text(errors="replace")
    ranks = sorted({(int(rank), int(world)) for _, _, rank, world, _ in RANK_LINE.findall(log)})
    assert ranks == [(0, 2), (1, 2)]
    assert len(SAVED_LINE.findall(log)) == 1
    assert "distributed: MULTI_CPU over 2 process(es)" in log
    run = json.loads((tmp_path / "run" / "state.json").read_text())
    artifact = run["training"]["model_artifact"]
    data = read_object(stack, artifact) if stack else Path(artifact).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert "model.safetensors" in names and len(names) == len(set(names))
