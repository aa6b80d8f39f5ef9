"""Child processes that never outlive a Ctrl-C: each runs in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid`: no chance to clean up, as on a lost machine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop_group(pid: int, grace_s: float = 10) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL what is left after `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _group_alive(pid):
                return
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.waitpid(pgid, os.WNOHANG)  # reap our own child so it does not linger as a zombie
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def run_tee(cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path,
            on_start: Callable[[subprocess.Popen], None] | None = None) -> int:
    """Run `cmd`, streaming its output to the terminal and to `log`; return its exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    if on_start:
        on_start(proc)
    try:
        with open(log, "ab") as sink:
            while chunk := os.read(proc.stdout.fileno(), 65536):
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                sink.write(chunk)
        return proc.wait()
    finally:  # Ctrl-C or any error here: take the whole group down with us
        if proc.poll() is None:
            stop_group(proc.pid)
        proc.stdout.close()


def start_detached(cmd: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a long-lived server in its own session, logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        return subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


class Tee:
    """A text stream that writes to two."""

    def __init__(self, stream, sink):
        self.stream, self.sink = stream, sink

    def write(self, text: str) -> int:
        self.sink.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.sink.flush()
        self.stream.flush()


@contextlib.contextmanager
def stdout_copied_to(log: Path):
    """What this process prints meanwhile (the SDK prints a job's log) goes to `log` too."""
    with open(log, "a") as sink, contextlib.redirect_stdout(Tee(sys.stdout, sink)):
        yield
