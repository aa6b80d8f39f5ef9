"""Scale-out: two train.py processes (`local`) and two containers (`sagemaker-local`) against
one process with the same global batch.

Data-parallel training splits each global batch of the one-process order across the
processes (same seed, same length-grouped order) and averages their gradients. With dropout
off, the only randomness left is that order, so the runs must agree to float rounding."""

import contextlib
import io
import json
import re
import tarfile
import time
import uuid

import psutil
import pytest

from tests.support.cli import harness
from tests.support.runs import left_behind, minilm_dir, read_object, state, write_config

pytestmark = pytest.mark.e2e
GLOBAL_BATCH = 8
# Measured: 0.0 on every metric and every logged loss (bit-identical). The margin allows for
# float reduction order (gloo's all-reduce, per-shard padding) on other CPUs and builds.
TOLERANCE = 1e-5
METRICS = ("eval_loss", "eval_accuracy", "eval_f1", "eval_precision", "eval_recall")
RANK_LINE = re.compile(r"host (\S+) of (\S+): process (\d+) of (\d+) \(local (\d+)\)")
WRITER_LINE = re.compile(r"model saved to \S+ on host (\S+)")


@pytest.fixture(scope="module")
def steady_bert(tmp_path_factory):
    """A 2-layer BERT with dropout off: training is a function of the batches alone."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("steady-bert")
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(folder)
    return folder


def trained(folder, model, files, *, mode: str, batch: int, modes: dict) -> dict:
    """Prepare and train a 2-epoch job of 32 rows; its state and log."""
    config = write_config(
        # LocalStack is shared with whatever else runs on this machine: a prefix of its own
        folder, model=str(model), modes=modes, s3={"prefix": f"dist-{uuid.uuid4().hex[:12]}"},
        dataset={"train_file": str(files["train"]), "test_file": str(files["test"]),
                 "max_length": 64},
        hyperparameters={"epochs": 2, "train_batch_size": batch, "eval_batch_size": 16,
                         "warmup_steps": 0, "learning_rate": 1e-3, "seed": 7,
                         "logging_steps": 1})
    harness("prepare", "-c", str(config), "--mode", mode)
    harness("train", "-c", str(config), "--mode", mode)
    run = folder / "run"
    history = json.loads((run / "output" / "data" / "log_history.json").read_text())
    return {**state(config), "losses": [row["loss"] for row in history if "loss" in row],
            "log": (run / "train.log").read_text(errors="replace")}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, steady_bert, sentiment_files) -> dict:
    return trained(tmp_path_factory.mktemp("one"), steady_bert, sentiment_files,
                   mode="local", batch=GLOBAL_BATCH, modes={})


def assert_same_training(run: dict, reference: dict) -> None:
    assert len(run["losses"]) == len(reference["losses"]) == 2 * 32 // GLOBAL_BATCH
    assert run["losses"] == pytest.approx(reference["losses"], abs=TOLERANCE)
    for key in METRICS:
        assert run["metrics"][key] == pytest.approx(reference["metrics"][key],
                                                    abs=TOLERANCE), key


def ranks(log: str) -> list[tuple]:
    """(host, hosts, rank, world size, local rank) as each train.py process logged them."""
    return sorted({(host, tuple(json.loads(hosts)), int(rank), int(world), int(local))
                   for host, hosts, rank, world, local in RANK_LINE.findall(log)},
                  key=lambda row: row[2])


def processes_of(folder) -> list[int]:
    """Live processes that were given a model directory under `folder`."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if str(folder) in process.environ().get("SM_MODEL_DIR", ""):
                found.append(process.pid)
    return found


def test_two_processes_match_one_process(tmp_path, steady_bert, sentiment_files, one_process):
    run = trained(tmp_path, steady_bert, sentiment_files, mode="local",
                  batch=GLOBAL_BATCH // 2, modes={"local": {"processes": 2}})
    assert_same_training(run, one_process)
    assert ranks(run["log"]) == [("algo-1", ("algo-1",), 0, 2, 0),
                                 ("algo-1", ("algo-1",), 1, 2, 1)]
    assert ranks(one_process["log"]) == [("algo-1", ("algo-1",), 0, 1, 0)]
    assert WRITER_LINE.findall(run["log"]) == ["algo-1"]
    assert processes_of(tmp_path) == []


def test_two_containers_match_one_process(tmp_path, steady_bert, sentiment_files, one_process,
                                          sagemaker_local_stack):
    started = time.time()
    run = trained(tmp_path, steady_bert, sentiment_files, mode="sagemaker-local",
                  batch=GLOBAL_BATCH // 2, modes={"sagemaker-local": {"instance_count": 2}})
    assert_same_training(run, one_process)
    seen = ranks(run["log"])
    hosts = seen[0][1]
    assert [host.rsplit("-", 1)[0] for host in hosts] == ["algo-1", "algo-2"]  # SDK: algo-N-xxxxx
    assert seen == [(hosts[0], hosts, 0, 2, 0), (hosts[1], hosts, 1, 2, 0)]
    assert WRITER_LINE.findall(run["log"]) == [hosts[0]]
    model = read_object(sagemaker_local_stack, run["training"]["model_artifact"])
    with tarfile.open(fileobj=io.BytesIO(model)) as tar:
        names = tar.getnames()
    assert "model.safetensors" in names and len(names) == len(set(names))
    assert left_behind(tmp_path / "run", started) == []
