"""A job: the validated config, the chosen mode and the run directory, opened once per command."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import cleanup, modes
from harness.config import JobConfig, load_config, resolve_model
from harness.modes.base import Mode
from harness.run_dir import RunDir


@dataclass(frozen=True)
class Job:
    config: JobConfig
    mode: Mode

    @property
    def run(self) -> RunDir:
        return self.mode.run

    @contextmanager
    def step(self, name: str):
        """Check what the step needs, then time it and record it in the run's state."""
        self.mode.preflight(name)
        started = time.monotonic()
        yield
        self.run.record_time(name, time.monotonic() - started)

    def hyperparameters(self) -> dict:
        """What train.py gets, with `--model_name`: a hub id, or a local folder's name (the
        folder itself travels as the `model` channel)."""
        source = resolve_model(self.config)
        model_name = Path(source).name if Path(source).is_dir() else source
        return {**self.config.hyperparameters.model_dump(exclude_none=True),
                "model_name": model_name}


def open_job(config_path: str | Path, overrides: list[str], mode_flag: str | None) -> Job:
    config = load_config(config_path, overrides)
    cleanup.claim(config.run_path)  # what this command starts is labelled as its own
    name = modes.choose(mode_flag)
    mode_class = modes.load(name)
    return Job(config, mode_class(config, RunDir(config.run_path, name)))
