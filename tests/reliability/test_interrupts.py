"""Ctrl-C at a sagemaker-local step leaves no container, network, process or bound port."""

from __future__ import annotations

import pytest

from harness.config import load_config
from harness.host import endpoint_process
from tests.support.cli import harness, harness_started
from tests.support.processes import alive, interrupt_when, labelled_processes, wait_for
from tests.support.runs import left_behind


@pytest.mark.parametrize("step", ["train", "deploy"])
def test_ctrl_c_in_sagemaker_local_leaves_nothing(step, tiny_job, sagemaker_local_stack):
    import time

    import docker

    since, engine = time.time(), docker.from_env()
    run = (tiny_job.parent / "run").resolve()
    harness("prepare", "-c", str(tiny_job), "--mode", "sagemaker-local")
    if step == "deploy":
        harness("train", "-c", str(tiny_job), "--mode", "sagemaker-local")
    more = ["--set", "hyperparameters.epochs=300"] if step == "train" else []

    def containers():
        return engine.containers.list(all=True, filters={"label": f"harness.run={run}"},
                                      ignore_removed=True)

    proc = harness_started(step, "-c", str(tiny_job), "--mode", "sagemaker-local", *more)
    try:
        code, children, _ = interrupt_when(
            proc, lambda: any(c.status == "running" for c in containers()), timeout_s=240)
        assert code == 130, proc.stderr.read().splitlines()[-12:]
        wait_for(lambda: not alive(children), 60)
    finally:  # a failed test still removes its run's containers (interrupt_when, its processes)
        found = left_behind(run, since)
        for container in containers():
            container.remove(force=True)
    assert found == []
    assert not labelled_processes(run)
    assert not endpoint_process.listening(load_config(tiny_job).endpoint.port)
