"""Who owns what harness starts: the vocabulary `harness cleanup` reads.

Every process harness starts carries `HARNESS_OWNER` and `HARNESS_RUN` in its environment, and
every container it starts carries them as labels (`harness.owner`, `harness.run`). The owner is
`<pid>:<start time>` of the process whose life the resource belongs to; a resource whose owner
is gone is a leftover. Endpoints outlive the command that started them, so they are owned by
their run's record instead (the owner `endpoint`), once the command that started them (its
`HARNESS_STARTER`) has recorded them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

OWNER = "HARNESS_OWNER"
RUN = "HARNESS_RUN"
STARTER = "HARNESS_STARTER"  # an endpoint process's: the command that started it (deploy)
ENDPOINT = "endpoint"  # the owner of an endpoint process: its run's state.json
LABEL_OWNER, LABEL_RUN = "harness.owner", "harness.run"


def owner_of(pid: int) -> str:
    import psutil

    return f"{pid}:{psutil.Process(pid).create_time():.2f}"


def claim(run_dir: Path) -> None:
    """Make this process the owner of whatever it (and its children) start from now on."""
    os.environ[OWNER] = owner_of(os.getpid())
    os.environ[RUN] = str(Path(run_dir).resolve())


def container_labels() -> dict[str, str]:
    return {LABEL_OWNER: os.environ.get(OWNER, ""), LABEL_RUN: os.environ.get(RUN, "")}


def run_label(run_dir: Path | str) -> str:
    """The label filter that finds the containers started for a run."""
    return f"{LABEL_RUN}={Path(run_dir).resolve()}"


def run_processes(run_dir: Path | str) -> list:
    """The processes started for a run that still run, this one excepted: what the run owns
    on this machine besides its containers."""
    import psutil

    run, found = str(Path(run_dir).resolve()), []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(RUN) == run and running(proc):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def endpoint_env(run_dir: Path) -> dict[str, str]:
    """The environment of a detached endpoint process: owned by its run's record, and until
    that names it, by the command starting it."""
    return {**os.environ, OWNER: ENDPOINT, STARTER: os.environ.get(OWNER, ""),
            RUN: str(Path(run_dir).resolve())}


def running(proc) -> bool:
    """Whether a psutil process still runs: a zombie has ended, whoever is yet to reap it."""
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def alive(owner: str) -> bool:
    """Whether the process an owner string names still runs."""
    import psutil

    pid, _, started = owner.partition(":")
    try:
        proc = psutil.Process(int(pid))
        return f"{proc.create_time():.2f}" == started and running(proc)
    except (ValueError, psutil.Error):
        return False


def wait_ended(procs: list, timeout_s: float = 10) -> None:
    """Wait until each of `procs` has ended (or `timeout_s` has passed)."""
    deadline = time.monotonic() + timeout_s
    while any(running(proc) for proc in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
