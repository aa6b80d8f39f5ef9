"""Checkpoints as SageMaker keeps them, and spot reclaims rehearsed in the emulated modes.

A job's complete checkpoints in `/opt/ml/checkpoints` are saved to `<job>/checkpoints` in the
mode's storage; one the job was killed while writing never is. A restart begins, like a new
spot instance, with that folder emptied and filled from storage; train.py then resumes from
the newest complete checkpoint.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness.errors import StepError

MARK = "checkpoint-complete"  # written by train.py (which imports nothing from harness) last
T = TypeVar("T")


def complete(folder: Path) -> list[str]:
    """Names of the checkpoints in `folder` that train.py finished writing, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("checkpoint-*") if (p / MARK).is_file()]
    return [p.name for p in sorted(found, key=lambda p: int(p.name.split("-")[-1]))]


class Reclaim(threading.Thread):
    """Kills a running job once `after` checkpoints are complete, as a spot reclaim would.
    The job sets `kill` once it has something to kill."""

    def __init__(self, folder: Path, after: int):
        super().__init__(daemon=True)
        self.folder, self.after = folder, after
        self.kill: Callable[[], None] | None = None
        self.fired = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            if self.kill and len(complete(self.folder)) >= self.after:
                self.fired = True
                self.kill()
                return

    def __enter__(self) -> Reclaim:
        if self.after:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        if self.is_alive():
            self.join()


def with_restarts(attempt: Callable[[Reclaim], T], *, folder: Path, interrupt_after: int,
                  restore: Callable[[Path], None], save: Callable[[Path], None]) -> T:
    """Run `attempt`; with `interrupt_after` > 0, kill it after that many complete checkpoints
    and run it again, like a new instance, on the checkpoints restored from storage.
    Complete checkpoints are saved to storage whatever happens."""
    for after in (interrupt_after, 0):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        restore(folder)
        with Reclaim(folder, after) as reclaim:
            try:
                return attempt(reclaim)
            except StepError:
                if not reclaim.fired:
                    raise
            finally:
                for name in complete(folder):
                    save(folder / name)
        # The job is dead now: nothing newer than this can appear.
        print(f"harness: spot reclaim rehearsed: the job was killed after {complete(folder)[-1]}; "
              "restarting it on the checkpoints restored from storage", flush=True)
    raise AssertionError("unreachable: the second attempt is never reclaimed")
