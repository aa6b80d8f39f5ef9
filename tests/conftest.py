"""Shared fixtures: tiny real models and datasets built on this machine, isolated run dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.host.endpoint_process import free_port
from harness.pytest_plugin import require_docker
from tests.support.runs import LABELS, REPO, minilm_dir, recipe, write_config

pytest_plugins = ["tests.aws_emulator"]  # its fixtures (`aws`), for every test module

# Nothing in the tests may reach the Hugging Face Hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def no_inferred_task():
    """The endpoint server writes the task it inferred to HF_TASK, as the toolkit does in its
    container; a server of an earlier test (or of this module's fixtures, set up before this)
    run in this process must not hand its task to this test's endpoints."""
    os.environ.pop("HF_TASK", None)


# Under `pytest -n 2 --dist loadgroup`, the tests that start containers or change the
# engine's state (e2e, and the tracker's start and stop) share one Docker engine and one
# LocalStack: they run one after another on one worker, in the order they were collected.
# The installed-package checks (their own virtualenvs, images and projects) are a group of
# their own, beside the fast tests on the other worker.
ENGINE_FIXTURES = {"sagemaker_local_stack", "harness_emulator", "tracker_engine"}
INSTALLED_CHECKS = "tests/e2e/test_installed.py"


@pytest.hookimpl(tryfirst=True)  # before xdist's hook reads the groups
def pytest_collection_modifyitems(items):
    """Tests that need Docker and LocalStack run containers, which takes tens of seconds each:
    they count as e2e (`pytest -m "not e2e"` leaves them out), wherever they live."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if fixtures & (ENGINE_FIXTURES - {"tracker_engine"}) or \
                params.get("harness_mode") == "sagemaker-local":  # the pytest plugin's
            item.add_marker(pytest.mark.e2e)
        if item.nodeid.startswith(INSTALLED_CHECKS):
            item.add_marker(pytest.mark.xdist_group("installed"))
        elif item.get_closest_marker("e2e") or fixtures & ENGINE_FIXTURES:
            item.add_marker(pytest.mark.xdist_group("engine"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT with random weights and MiniLM's real WordPiece tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory) -> Path:
    """A tiny sequence classifier as train.py saves one: labels read as words."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-classifier")
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128,
                        id2label=dict(enumerate(LABELS)),
                        label2id={name: i for i, name in enumerate(LABELS)})
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def sentiment_files(tmp_path_factory) -> dict[str, Path]:
    """A few rows from the shipped dataset, as JSONL files."""
    folder = tmp_path_factory.mktemp("sentiment")
    files = {}
    for split, rows in (("train", 32), ("test", 16)):
        lines = (REPO / "data" / "sentiment" / f"{split}.jsonl").read_text().splitlines()
        files[split] = folder / f"{split}.jsonl"
        files[split].write_text("\n".join(lines[:rows]) + "\n")
    return files


@pytest.fixture(scope="session")
def train_py():
    """train/train.py imported as a module (its functions, not a copy of them)."""
    return recipe("train.py")


@pytest.fixture
def tiny_job(tmp_path, tiny_bert, sentiment_files) -> Path:
    """A config that trains the tiny BERT on 32 rows for one epoch: seconds, not minutes."""
    return write_config(
        tmp_path, model=str(tiny_bert),
        dataset={"train_file": str(sentiment_files["train"]),
                 "test_file": str(sentiment_files["test"]), "max_length": 64},
        hyperparameters={"epochs": 1, "train_batch_size": 8, "eval_batch_size": 16,
                         "warmup_steps": 0, "learning_rate": 1e-3, "seed": 7,
                         "logging_steps": 1},
        endpoint={"port": free_port(), "startup_timeout_s": 60})


@pytest.fixture(scope="session")
def sagemaker_local_stack() -> str:
    """A running engine, LocalStack up and the training image built (each reused if there)."""
    require_docker()
    from harness.containers import emulator, image

    image.build()
    return emulator.up()


@pytest.fixture
def tracker_engine():
    """The Docker engine, for a test that starts and stops `harness tracker`; the tracker is
    put back as the test found it: up on its port, or down."""
    require_docker()
    from harness.containers import docker_engine, tracker
    from tests.support.cli import harness

    before = tracker.status()
    yield docker_engine.client()
    if before.running:
        harness("tracker", "up", "--port", str(before.port))
    else:
        harness("tracker", "down")
