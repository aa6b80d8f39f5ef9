"""Waiting for processes, interrupting the CLI as Ctrl-C does, and what it left running."""

from __future__ import annotations

import contextlib
import signal
import time

import psutil

from harness.host import ownership


def wait_for(predicate, timeout_s=120, interval_s=0.2):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval_s)


def alive(processes):
    """The processes of `processes` still running (zombies count as gone)."""
    running = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


def interrupt_when(proc, ready, timeout_s=180):
    """SIGINT the CLI (as Ctrl-C does) once `ready()` holds; return its exit code and the
    processes it had started by then. If waiting fails, the CLI is still stopped as a user
    would, so a failed test leaves nothing behind for the next one to trip on."""
    try:
        wait_for(lambda: ready() or proc.poll() is not None, timeout_s)
    except BaseException:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        raise
    assert proc.poll() is None, proc.communicate()
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the step had started no process yet"
    commands = [" ".join(c.cmdline()) for c in children]
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() != 130:  # the test fails: still leave nothing for the next one
            stop(proc, children)
    return code, children, commands


def stop(proc, children) -> None:
    """Kill the CLI and the processes it had started (an endpoint host, a launcher)."""
    proc.kill()
    proc.wait()
    for child in alive(children):
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def labelled_processes(run) -> list[psutil.Process]:
    return ownership.run_processes(run)
