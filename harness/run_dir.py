"""The run directory: what each step leaves for the next, in `state.json`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.errors import StepError

STEPS = ("prepare", "train", "deploy", "predict", "delete")


class RunDir:
    def __init__(self, path: Path, mode: str):
        self.path = Path(path).resolve()
        self.mode = mode
        self.state_file = self.path / "state.json"

    def load(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        state = json.loads(self.state_file.read_text())
        if state.get("mode") not in (None, self.mode):
            raise StepError(
                f"{self.path} holds a run in mode {state['mode']!r}, not {self.mode!r}",
                f"use --mode {state['mode']}, or set run_dir to a new folder for this mode")
        return state

    def save(self, **updates: Any) -> dict[str, Any]:
        state = {**self.load(), **updates, "mode": self.mode}
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        os.replace(tmp, self.state_file)  # atomic: a crash never leaves half a state file
        return state

    def require(self, key: str, step: str) -> Any:
        value = self.load().get(key)
        if value is None:
            raise StepError(f"no {key.replace('_', ' ')} in {self.path}",
                            f"run `harness {step}` first (or `harness run` for the whole flow)")
        return value

    def record_time(self, step: str, seconds: float) -> None:
        timings = self.load().get("timings", {})
        self.save(timings={**timings, step: round(seconds, 2)})
