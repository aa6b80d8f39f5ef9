"""A job: the validated config, the chosen mode and the run directory, opened once per command."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import channels, modes, summary
from harness.config import JobConfig, load_config
from harness.errors import ConfigError
from harness.host import ownership
from harness.modes.base import Mode
from harness.run_dir import Prepared, RunDir
from harness.storage import Storage


@dataclass(frozen=True)
class Job:
    config: JobConfig
    mode: Mode

    @property
    def run(self) -> RunDir:
        return self.mode.run

    @property
    def storage(self) -> Storage:
        return self.mode.storage

    @contextmanager
    def step(self, name: str):
        """Check what the step needs, then time it and record it in the run's state."""
        self.mode.preflight(name)
        started = time.monotonic()
        yield
        self.run.record_time(name, time.monotonic() - started)

    def summary(self) -> str:
        """The end-of-run summary of what the steps recorded."""
        return summary.render(self.run.load(), str(self.run.path), self.storage.root)

    def require_section(self, name: str, example: str) -> Any:
        """The config's `name:` section; none is a ConfigError whose fix is `example`."""
        section = getattr(self.config, name)
        if section is None:
            raise ConfigError(f"{self.config.source}: no {name}: section", example)
        return section

    def channels(self) -> dict[str, str]:
        """The training job's channels: what `prepare` stored, and the config's inputs staged
        where the mode's training reads them."""
        prepared = self.run.require(Prepared).channels if self.config.dataset else {}
        return channels.staged(self.config, self.storage, self.mode.reads_in_place, prepared)

    def hyperparameters(self) -> dict:
        """What the entry point gets: the config's hyperparameters, exactly. harness's own
        train.py also gets `--model_name` from `model`."""
        sent = self.config.sent_hyperparameters
        if self.config.bundled_script and self.config.model:
            sent = {**sent, "model_name": self.config.model_source().name}
        return sent


def open_job(config_path: str | Path | None, overrides: Sequence[str] | Mapping[str, Any],
             mode_flag: str | None) -> Job:
    """The job of this config (None: the defaults) in the chosen mode, for one command."""
    config = load_config(config_path, overrides)
    ownership.claim(config.run_path)  # what this command starts is labelled as its own
    name = modes.choose(mode_flag)
    return Job(config, modes.load(name)(config, RunDir(config.run_path, name)))
