"""The contract every mode keeps, run once per registered mode (as fsspec's abstract tests run
once per backend), plus FakeMode, registered through the same registry as the real ones.

A `Rig` is what the suite needs to drive one mode: what must run first (Docker and LocalStack;
the emulated AWS), how to call the CLI in it, and what counts as left behind."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from harness import modes
from harness.host.endpoint_process import free_port
from tests.contract import fake_mode
from tests.support.cli import harness
from tests.support.runs import owned_by, write_config

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture(autouse=True)
def fake_mode_registered():
    """FakeMode in the registry for this suite's tests only: other tests see the real modes."""
    with modes.registered(fake_mode.NAME, fake_mode.TARGET, fake_mode.SETTINGS):
        yield


class Rig:
    """A mode that runs on this machine."""

    rehearses_reclaims = True

    def __init__(self, name: str):
        self.name = name

    def config(self, config: Path, prefix: str) -> Path:
        return config

    def harness(self, *args: str, check: bool = True):
        return harness(*args, "--mode", self.name, check=check)

    def environ(self) -> dict[str, str]:
        """The environment of the CLI as a process of its own."""
        return dict(os.environ)

    def training_started(self, run: Path) -> bool:
        log = run / "train.log"
        return log.exists() and "training started" in log.read_text(errors="ignore")

    def left_behind(self, run: Path) -> list[str]:
        """This run's processes and containers that still run."""
        return owned_by(run)


class SageMakerRig(Rig):
    """`sagemaker`, against the emulated AWS (tests/aws_emulator.py), for the whole test."""

    rehearses_reclaims = False  # reclaims on SageMaker are real ones

    def __init__(self, aws, monkeypatch):
        super().__init__("sagemaker")
        self.aws = aws
        for key, value in aws.env.items():  # the test's own calls (storage, predict) too
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    def config(self, config: Path, prefix: str) -> Path:
        return self.aws.config(config, prefix=prefix)

    def harness(self, *args: str, check: bool = True):
        return self.aws.harness(*args, check=check)

    def environ(self) -> dict[str, str]:
        return self.aws.environ()

    def training_started(self, run: Path) -> bool:
        return bool(self.aws.sagemaker().training_jobs)

    def left_behind(self, run: Path) -> list[str]:
        running = [f"training job {name}" for name, job in self.aws.sagemaker().training_jobs.items()
                   if job.training_job_status in ("InProgress", "Stopping")]
        hosting = [f"{kind} {name}" for kind, names in self.aws.hosting().items() for name in names]
        return super().left_behind(run) + running + hosting


MODES = ["local", pytest.param("sagemaker-local", marks=pytest.mark.e2e),
         pytest.param("sagemaker", marks=pytest.mark.e2e), fake_mode.NAME]


@pytest.fixture(params=MODES)
def mode(request) -> Rig:
    """A mode with what it needs running: Docker, LocalStack and the image for sagemaker-local;
    the emulated AWS for sagemaker."""
    if request.param == "sagemaker-local":
        request.getfixturevalue("sagemaker_local_stack")
    if request.param == "sagemaker":
        return SageMakerRig(request.getfixturevalue("aws"),
                            request.getfixturevalue("monkeypatch"))
    return Rig(request.param)


@pytest.fixture
def contract_job(tmp_path, mode, tiny_classifier, sentiment_files):
    """A config for a script in scripts/: the tiny classifier as the `model` channel, a few
    rows of data, its own S3 prefix and endpoint port."""
    def make(entry_point: str, **sections) -> Path:
        prefix = f"contract-{uuid.uuid4().hex[:8]}"
        return mode.config(write_config(
            tmp_path, model=str(tiny_classifier), source_dir=str(SCRIPTS),
            entry_point=entry_point,
            dataset={"train_file": str(sentiment_files["train"]),
                     "test_file": str(sentiment_files["test"]), "max_length": 32},
            hyperparameters={"epochs": 2, "learning_rate": 0.001}, s3={"prefix": prefix},
            endpoint={"port": free_port(), "startup_timeout_s": 120}, **sections), prefix)
    return make
