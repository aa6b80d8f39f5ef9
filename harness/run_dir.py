"""The run directory: what each step leaves for the next, as typed records in `state.json`.

Steps read and write records only through `RunDir`; nothing else opens the state file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from harness.errors import NO_SPACE, NOT_WRITABLE, StepError, disk_full, not_writable

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
    endpoint process on this machine, where there is one; `mode_state` is the part that one
    mode keeps for itself, in a record of its own declaring."""

    KEY: ClassVar[str] = "endpoint"
    STEP: ClassVar[str] = "deploy"
    name: str
    url: str
    port: int | None = None
    pid: int | None = None
    module: str | None = None
    log: str | None = None
    model_data: str | None = None  # the model.tar.gz it serves
    mode_state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TuningResult:
    """A tuning job: each trial (its training job, hyperparameters, status, objective) and the
    best one, whose training job `deploy` then serves."""

    KEY: ClassVar[str] = "tuning"
    STEP: ClassVar[str] = "tune"
    job_name: str
    objective_metric_name: str
    objective_type: str
    trials: list[dict]
    best_training_job: str | None = None
    table: str | None = None  # the leaderboard, as printed
    plot: str | None = None  # the objective per trial, a PNG


@dataclass(frozen=True)
class TransformResult:
    """A batch transform job: the `.out` file of each input file, and the records sent."""

    KEY: ClassVar[str] = "transform"
    STEP: ClassVar[str] = "transform"
    job_name: str
    output_path: str
    outputs: list[str] = field(default_factory=list)
    records: int = 0


Record = TypeVar("Record", Prepared, TrainingResult, Endpoint, TuningResult, TransformResult)


class RunDir:
    def __init__(self, path: Path, mode: str | None = None):
        """`mode`: the mode this run belongs to; None reads a run of any mode."""
        self.path = Path(path).resolve()
        self.mode = mode
        self.state_file = self.path / "state.json"
        self.lock_file = self.path / ".lock"  # held by the command that changes the run
        self.error_log = self.path / "harness.log"  # every failed command's traceback

    @contextlib.contextmanager
    def lock(self):
        """Hold the run dir for this command: a second command that changes the run is
        refused with the name and pid of the one holding it. The kernel lets go when this
        process ends, however it ends, so a lock is never stale."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno in NO_SPACE:
                raise disk_full(self.path) from e
            if e.errno in NOT_WRITABLE:
                raise not_writable(self.path, e.strerror) from e
            raise
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._busy(os.pread(fd, 4096, 0)) from None
            holder = {"pid": os.getpid(), "command": " ".join(["harness", *sys.argv[1:]]),
                      "since": time.strftime("%H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            yield
        finally:
            os.close(fd)

    def _busy(self, raw: bytes) -> StepError:
        try:
            holder = json.loads(raw)
            who = f"`{holder['command']}` (pid {holder['pid']}, since {holder['since']})"
            stop = f"stop it (`kill {holder['pid']}`)"
        except (ValueError, KeyError, TypeError):
            who, stop = "another harness command", "stop it"
        return StepError(f"run dir {self.path} is busy: {who} is using it",
                         f"wait for it to finish or {stop}; or set run_dir to another folder. "
                         "predict, promote and run --dry-run work meanwhile")

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
        except ValueError as e:
            raise self._corrupt(f"is not valid JSON ({e})") from None
        if not isinstance(state, dict):
            raise self._corrupt("is not a JSON object")
        if self.mode and state.get("mode") not in (None, self.mode):
            raise StepError(
                f"{self.path} holds a run in mode {state['mode']!r}, not {self.mode!r}",
                f"use --mode {state['mode']}, or set run_dir to a new folder for this mode")
        return state

    def _corrupt(self, problem: str) -> StepError:
        return StepError(f"{self.state_file} {problem}; harness leaves it as it is",
                         f"repair it, or move it aside (mv {self.state_file} "
                         f"{self.state_file}.bad) and run the steps again from `harness prepare`")

    def save(self, **updates: Any) -> dict[str, Any]:
        """Merge `updates` (records or plain JSON values) into the state, atomically. Writers
        take turns (a `predict` may save while another command holds the run dir)."""
        plain = {key: dataclasses.asdict(value)
                 if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
                 for key, value in updates.items()}
        return self._change(lambda state: {**state, **plain})

    def _change(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Read, change and write the state in one turn: no other writer comes between."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(f"state.json.{os.getpid()}.tmp")
        with open(self.path / ".state-lock", "w") as turn:
            fcntl.flock(turn, fcntl.LOCK_EX)
            state = {**change(self.load()), "mode": self.mode}
            try:
                tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
                os.replace(tmp, self.state_file)  # a crash never leaves half a state file
            except BaseException:
                tmp.unlink(missing_ok=True)  # a full disk leaves the old state, and no litter
                raise
        return state

    def get(self, record: type[Record]) -> Record | None:
        value = self.load().get(record.KEY)
        if not value:
            return None
        try:
            return record(**value)
        except TypeError:
            raise self._corrupt(f"has a {record.KEY!r} entry harness did not write") from None

    def require(self, record: type[Record]) -> Record:
        value = self.get(record)
        if value is None:
            raise StepError(f"no {record.KEY} in {self.path}",
                            f"run `harness {record.STEP}` first (or `harness run` for the whole "
                            "flow)")
        return value

    def record_time(self, step: str, seconds: float) -> None:
        self._change(lambda state: {**state, "timings": {**state.get("timings", {}),
                                                         step: round(seconds, 2)}})

