"""Ownership labels on everything harness starts, and `harness cleanup` for what a crash left.

Every process harness starts carries `HARNESS_OWNER` and `HARNESS_RUN` in its environment, and
every container it starts carries them as labels (`harness.owner`, `harness.run`). The owner is
`<pid>:<start time>` of the process whose life the resource belongs to; a resource whose owner
is gone is a leftover. Endpoints outlive the command that started them, so they are owned by
their run's record instead: an endpoint process its run's state.json no longer names is a leftover.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

OWNER = "HARNESS_OWNER"
RUN = "HARNESS_RUN"
ENDPOINT = "endpoint"  # the owner of an endpoint process: its run's state.json
LABEL_OWNER, LABEL_RUN = "harness.owner", "harness.run"


def owner_of(pid: int) -> str:
    import psutil

    return f"{pid}:{psutil.Process(pid).create_time():.2f}"


def claim(run_dir: Path) -> None:
    """Make this process the owner of whatever it (and its children) start from now on."""
    os.environ[OWNER] = owner_of(os.getpid())
    os.environ[RUN] = str(run_dir.resolve())


def container_labels() -> dict[str, str]:
    return {LABEL_OWNER: os.environ.get(OWNER, ""), LABEL_RUN: os.environ.get(RUN, "")}


def endpoint_env(run_dir: Path) -> dict[str, str]:
    """The environment of a detached endpoint process: owned by its run's record."""
    return {**os.environ, OWNER: ENDPOINT, RUN: str(run_dir.resolve())}


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


def recorded_endpoint_pids(run: str) -> set[int]:
    """The endpoint process ids the run's state files name."""
    pids = set()
    for state in Path(run).glob("**/state.json"):
        with contextlib.suppress(OSError, ValueError):
            endpoint = json.loads(state.read_text()).get("endpoint") or {}
            if endpoint.get("pid"):
                pids.add(endpoint["pid"])
    return pids


def leftover_processes() -> list:
    """Processes harness started whose owner is gone, oldest first."""
    import psutil

    found, endpoints = [], {}  # run -> the endpoint pids its state names, read once per run
    for proc in psutil.process_iter(["pid", "create_time"]):
        with contextlib.suppress(psutil.Error):
            env = proc.environ()
            owner = env.get(OWNER)
            if not owner or proc.pid == os.getpid():
                continue
            if owner == ENDPOINT:
                run = env.get(RUN, "")
                if run not in endpoints:
                    endpoints[run] = recorded_endpoint_pids(run)
                stale = proc.pid not in endpoints[run]
            else:
                stale = not alive(owner)
            if stale:
                found.append(proc)
    return sorted(found, key=lambda p: p.info["create_time"])


def leftover_containers(engine, run: Path | None = None) -> list:
    """Containers whose owner is gone (only those of `run`, if given)."""
    from harness import docker_engine

    label = f"{LABEL_RUN}={run.resolve()}" if run else LABEL_OWNER
    return [c for c in docker_engine.labelled_containers(engine, label)
            if not alive(c.labels.get(LABEL_OWNER, ""))]


def cleanup(engine) -> list[str]:
    """Stop and remove every leftover; return what was removed, one line each."""
    import psutil

    from harness import docker_engine
    from harness.modes.sagemaker_local import NETWORK

    removed, tried = [], set()
    # Killing a leftover makes what it owned (its docker-compose, say) leftovers too: repeat.
    while found := [proc for proc in leftover_processes() if proc.pid not in tried]:
        for proc in found:
            tried.add(proc.pid)
            with contextlib.suppress(psutil.Error):
                removed.append(f"process {proc.pid}: {' '.join(proc.cmdline())[:100]}")
                proc.kill()
        wait_ended(found)
    if engine is not None:
        for container in leftover_containers(engine):
            removed.append(f"container {container.name} (run {container.labels.get(LABEL_RUN)})")
            docker_engine.force_remove(container)
        if docker_engine.remove_network_if_unused(engine, NETWORK):
            removed.append(f"network {NETWORK}")
    return removed
