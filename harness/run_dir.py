"""The run directory: what each step leaves for the next, as typed records in `state.json`.

Steps read and write records only through `RunDir`; nothing else opens the state file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from harness.errors import StepError

STEPS = ("prepare", "train", "deploy", "predict", "delete")


@dataclass(frozen=True)
class Prepared:
    """`prepare`'s result: channel name -> URI, the class names, rows per split."""

    KEY: ClassVar[str] = "prepared"
    STEP: ClassVar[str] = "prepare"
    channels: dict[str, str]
    labels: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingResult:
    """A finished training job and where its artifacts are."""

    KEY: ClassVar[str] = "training"
    STEP: ClassVar[str] = "train"
    job_name: str
    model_artifact: str
    output_artifact: str


@dataclass(frozen=True)
class Endpoint:
    """A running endpoint: what `predict` and `delete` need. `pid`/`port`/`module` name the
    endpoint process of the local modes; the other fields belong to one mode each."""

    KEY: ClassVar[str] = "endpoint"
    STEP: ClassVar[str] = "deploy"
    name: str
    url: str
    port: int | None = None
    pid: int | None = None
    module: str | None = None
    log: str | None = None
    model_data: str | None = None  # the model.tar.gz it serves
    model_name: str | None = None  # sagemaker: the model behind the endpoint
    container_root: str | None = None  # sagemaker-local: the SDK's compose folder
    projects: list[str] = field(default_factory=list)  # sagemaker-local: its compose projects


Record = TypeVar("Record", Prepared, TrainingResult, Endpoint)


class RunDir:
    def __init__(self, path: Path, mode: str | None = None):
        """`mode`: the mode this run belongs to; None reads a run of any mode."""
        self.path = Path(path).resolve()
        self.mode = mode
        self.state_file = self.path / "state.json"

    @property
    def output_dir(self) -> Path:
        """The training job's unpacked output.tar.gz (`failure`, `data/metrics.json`, ...)."""
        return self.path / "output"

    @property
    def train_log(self) -> Path:
        return self.path / "train.log"

    def new_train_log(self) -> Path:
        """The training log, emptied for a new job."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.train_log.write_text("")
        return self.train_log

    def load(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        try:
            state = json.loads(self.state_file.read_text())
        except ValueError:
            raise StepError(f"{self.state_file} is not valid JSON",
                            f"delete it to start this run over, or use another run_dir") from None
        if self.mode and state.get("mode") not in (None, self.mode):
            raise StepError(
                f"{self.path} holds a run in mode {state['mode']!r}, not {self.mode!r}",
                f"use --mode {state['mode']}, or set run_dir to a new folder for this mode")
        return state

    def save(self, **updates: Any) -> dict[str, Any]:
        """Merge `updates` (records or plain JSON values) into the state, atomically."""
        plain = {key: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                 for key, value in updates.items()}
        state = {**self.load(), **plain, "mode": self.mode}
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        os.replace(tmp, self.state_file)  # a crash never leaves half a state file
        return state

    def get(self, record: type[Record]) -> Record | None:
        value = self.load().get(record.KEY)
        return record(**value) if value else None

    def require(self, record: type[Record]) -> Record:
        value = self.get(record)
        if value is None:
            raise StepError(f"no {record.KEY} in {self.path}",
                            f"run `harness {record.STEP}` first (or `harness run` for the whole "
                            "flow)")
        return value

    def record_time(self, step: str, seconds: float) -> None:
        timings = self.load().get("timings", {})
        self.save(timings={**timings, step: round(seconds, 2)})
