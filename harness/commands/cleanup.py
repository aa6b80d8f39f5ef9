"""`harness cleanup`: stop and remove what crashed runs left behind.

A process or container is a leftover when its owner (see `ownership`) is gone. An endpoint
process is owned by its run's record instead: it is a leftover once that run's state no longer
names it and the command that started it has ended (an endpoint still starting is not yet
recorded). Running jobs and recorded endpoints are kept, and so is every endpoint of a run
whose state cannot be read.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.host import ownership
from harness.run_dir import Endpoint, RunDir

UNKNOWN = -1  # a run whose state cannot be read: which endpoint it names is unknown


def recorded_endpoint_pid(run: str) -> int | None:
    """The endpoint process the run's state names: None if none, UNKNOWN if unreadable."""
    try:
        endpoint = RunDir(Path(run)).get(Endpoint)
    except (HarnessError, OSError):
        return UNKNOWN
    return endpoint.pid if endpoint else None


def leftover_processes() -> list:
    """Processes harness started whose owner is gone, oldest first."""
    import psutil

    found, endpoints = [], {}  # run -> the endpoint pid its state names, read once per run
    for proc in psutil.process_iter(["pid", "create_time"]):
        with contextlib.suppress(psutil.Error):
            env = proc.environ()
            owner = env.get(ownership.OWNER)
            if not owner or proc.pid == os.getpid():
                continue
            if owner == ownership.ENDPOINT:
                run = env.get(ownership.RUN, "")
                if run not in endpoints:
                    endpoints[run] = recorded_endpoint_pid(run)
                stale = endpoints[run] not in (proc.pid, UNKNOWN) and \
                    not ownership.alive(env.get(ownership.STARTER, ""))
            else:
                stale = not ownership.alive(owner)
            if stale:
                found.append(proc)
    return sorted(found, key=lambda p: p.info["create_time"])


def cleanup(engine) -> list[str]:
    """Stop and remove every leftover (containers only with an `engine`); return what was
    removed, one line each."""
    import psutil

    removed, tried = [], set()
    # Killing a leftover makes what it owned (its docker-compose, say) leftovers too: repeat.
    while found := [proc for proc in leftover_processes() if proc.pid not in tried]:
        for proc in found:
            tried.add(proc.pid)
            with contextlib.suppress(psutil.Error):
                removed.append(f"process {proc.pid}: {' '.join(proc.cmdline())[:100]}")
                proc.kill()
        ownership.wait_ended(found)
    if engine is not None:
        removed += docker_engine.remove_leftovers(engine)
    return removed
