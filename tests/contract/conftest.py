"""The contract every mode keeps, run once per registered mode (as fsspec's abstract tests run
once per backend), plus FakeMode, registered through the same registry as the real ones."""

from __future__ import annotations

import uuid
from pathlib import Path

import psutil
import pytest

from harness import ownership
from tests.conftest import free_port, write_config
from tests.contract import fake_mode

SCRIPTS = Path(__file__).parent / "scripts"
fake_mode.register()


@pytest.fixture(params=["local", pytest.param("sagemaker-local", marks=pytest.mark.e2e),
                        fake_mode.NAME])
def mode(request) -> str:
    """A mode with what it needs running (Docker, LocalStack and the image for sagemaker-local)."""
    if request.param == "sagemaker-local":
        request.getfixturevalue("sagemaker_local_stack")
    return request.param


@pytest.fixture
def contract_job(tmp_path, tiny_classifier, sentiment_files):
    """A config for a script in scripts/: the tiny classifier as the `model` channel, a few
    rows of data, its own S3 prefix and endpoint port."""
    def make(entry_point: str, **sections) -> Path:
        return write_config(
            tmp_path, model=str(tiny_classifier), source_dir=str(SCRIPTS),
            entry_point=entry_point,
            dataset={"train_file": str(sentiment_files["train"]),
                     "test_file": str(sentiment_files["test"]), "max_length": 32},
            hyperparameters={"epochs": 2, "learning_rate": 0.001},
            s3={"prefix": f"contract-{uuid.uuid4().hex[:8]}"},
            endpoint={"port": free_port(), "startup_timeout_s": 120}, **sections)
    return make


def left_behind(run: Path) -> list[str]:
    """Processes and containers of this run that still run."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(ownership.RUN) == str(run.resolve()) and \
                    proc.status() != psutil.STATUS_ZOMBIE:
                found.append(f"process {proc.pid}: {' '.join(proc.cmdline())[:80]}")
        except psutil.Error:
            pass
    try:
        import docker

        engine = docker.from_env()
        engine.ping()
    except Exception:  # no engine: no container can have been left
        return found
    label = f"{ownership.LABEL_RUN}={run.resolve()}"
    return found + [f"container {c.name}" for c in engine.containers.list(
        all=True, filters={"label": label}, ignore_removed=True)]
