"""Child processes that never outlive a Ctrl-C: each runs in its own process group."""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from harness.host.log_text import Tee


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
            on_start: Callable[[subprocess.Popen], None] | None = None) -> tuple[int, str]:
    """Run `cmd`, streaming its output to the terminal and, cleaned (`log_text`), to `log`;
    return its exit code and the last lines of its output."""
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    if on_start:
        on_start(proc)
    assert proc.stdout is not None  # piped above
    try:
        with open(log, "a", encoding="utf-8") as sink:
            tee, decoder = Tee(sink), codecs.getincrementaldecoder("utf-8")(errors="replace")
            while chunk := os.read(proc.stdout.fileno(), 65536):
                tee.write(decoder.decode(chunk))
                tee.flush()
            tee.close()
            with contextlib.suppress(OSError):  # the log of a full disk loses its end, no more
                sink.close()
        return proc.wait(), tee.tail
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


@contextlib.contextmanager
def stdout_copied_to(log: Path):
    """What this process prints meanwhile (the SDK prints a job's log) goes to `log` too,
    cleaned as `run_tee` cleans it; yields the tee (its `tail`: the last lines)."""
    with open(log, "a", encoding="utf-8") as sink:
        tee = Tee(sink)
        try:
            with contextlib.redirect_stdout(tee):
                yield tee
        finally:
            tee.close()
