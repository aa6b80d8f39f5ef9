"""Checkpoints as SageMaker keeps them, and spot reclaims rehearsed in the emulated modes.

What a job leaves in `/opt/ml/checkpoints` is saved to `<job>/checkpoints` in the mode's
storage, as SageMaker syncs that folder. A script that marks each finished checkpoint folder
with a `checkpoint-complete` file, as the bundled train.py does, gets more: a `checkpoint-*`
folder without the mark (the job was killed while writing it) is never saved. A restart
begins, like a new spot instance, with that folder emptied and filled from storage.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness.errors import StepError

MARK = "checkpoint-complete"  # written by train.py (which imports nothing from harness) last
NUMBERED = re.compile(r"checkpoint-(\d+)")
T = TypeVar("T")


def complete(folder: Path) -> list[Path]:
    """The checkpoints in `folder` to save, oldest first: every entry, except `checkpoint-*`
    folders without the mark when the script marks its checkpoints."""
    if not folder.is_dir():
        return []
    entries = list(folder.iterdir())
    if any((entry / MARK).is_file() for entry in entries):
        entries = [e for e in entries if not NUMBERED.fullmatch(e.name) or (e / MARK).is_file()]
    return sorted(entries, key=_age)


def marked(checkpoints: list[Path]) -> bool:
    """Whether these checkpoints carry the completion mark (the script marks them)."""
    return bool(checkpoints) and all((c / MARK).is_file() for c in checkpoints)


def _age(entry: Path) -> tuple[float, float]:
    numbered = NUMBERED.fullmatch(entry.name)
    return (int(numbered.group(1)) if numbered else float("inf"), entry.stat().st_mtime)


def _snapshot(entries: list[Path]) -> list[tuple[str, float, int]]:
    return [(str(p), p.stat().st_mtime, p.stat().st_size)
            for entry in entries for p in [entry, *entry.rglob("*")]]


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
        """Kill once `after` checkpoints are complete: marked ones at once; unmarked ones once
        nothing in them changed for one poll (the script may still be writing)."""
        previous = None
        while not self.done.wait(0.2):
            found = complete(self.folder)
            snapshot = _snapshot(found) if len(found) >= self.after else None
            settled = snapshot is not None and (marked(found) or snapshot == previous)
            if self.kill and settled:
                self.fired = True
                self.kill()
                return
            previous = snapshot

    def __enter__(self) -> Reclaim:
        if self.after:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        if self.is_alive():
            self.join()


def with_restarts(attempt: Callable[[Reclaim], T], *, folder: Path, interrupt_after: int,
                  restore: Callable[[Path], object], save: Callable[[Path], object]) -> T:
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
                for checkpoint in complete(folder):
                    save(checkpoint)
        # The job is dead now: nothing newer than this can appear.
        print(f"harness: spot reclaim rehearsed: the job was killed after "
              f"{complete(folder)[-1].name}; restarting it on the checkpoints restored from "
              "storage", flush=True)
    raise AssertionError("unreachable: the second attempt is never reclaimed")
