"""Nothing harness starts outlives it unnoticed: a SIGKILLed command's leftovers are found by
their labels and removed by `harness cleanup`, while live endpoints are kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from harness.commands.cleanup import cleanup
from harness.containers import docker_engine
from harness.host import ownership
from tests.support.cli import harness, harness_process
from tests.support.processes import labelled_processes
from tests.support.runs import deployed, write_config


def kill_harness_when(config, mode: str, ready) -> None:
    """Start `harness train`, wait until `ready()`, then SIGKILL the command alone."""
    cli = harness_process("train", "-c", str(config), "--mode", mode,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not ready():
        assert cli.poll() is None and time.monotonic() < deadline, "training never started"
        time.sleep(0.5)
    os.kill(cli.pid, signal.SIGKILL)
    cli.wait()


def long_job(tmp_path, tiny_bert, sentiment_files):
    return write_config(
        tmp_path, model=str(tiny_bert),
        dataset={"train_file": str(sentiment_files["train"]),
                 "test_file": str(sentiment_files["test"]), "max_length": 64},
        hyperparameters={"epochs": 400, "train_batch_size": 4, "logging_steps": 1})


@pytest.mark.e2e  # a whole flow
def test_cleanup_stops_the_training_a_killed_command_left(tmp_path, tiny_bert, sentiment_files):
    config = long_job(tmp_path, tiny_bert, sentiment_files)
    run = tmp_path / "run"
    harness("prepare", "-c", str(config))
    kill_harness_when(config, "local", lambda: "train step" in (
        (run / "train.log").read_text() if (run / "train.log").exists() else ""))
    orphans = labelled_processes(run)
    assert orphans, "the training process should have outlived the killed command"
    result = harness("cleanup")
    assert f"process {orphans[0].pid}" in result.stdout
    psutil.wait_procs(orphans, timeout=10)
    assert not labelled_processes(run)
    assert "nothing to clean up" in harness("cleanup").stdout


OWNS_A_CHILD = """
import subprocess, sys, time
from pathlib import Path
from harness.host import ownership
ownership.claim(Path(sys.argv[1]))  # what this process starts is owned by it
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
time.sleep(600)
"""


def test_one_cleanup_removes_what_a_leftover_owned(tmp_path):
    """An endpoint host whose deploy was killed owns a docker-compose process: one `harness
    cleanup` removes both, not the host first and its docker-compose on a second call."""
    run = tmp_path / "run"
    host = subprocess.Popen([sys.executable, "-c", OWNS_A_CHILD, str(run)],
                            env={**os.environ, ownership.OWNER: "1:0.00", ownership.RUN: str(run)})
    deadline = time.monotonic() + 30
    while len(labelled_processes(run)) < 2:
        assert host.poll() is None and time.monotonic() < deadline, "the child never started"
        time.sleep(0.1)
    chain = labelled_processes(run)
    try:
        removed = "\n".join(cleanup(None))
        assert all(f"process {proc.pid}:" in removed for proc in chain), removed
        assert not [p for p in labelled_processes(run) if p.status() != psutil.STATUS_ZOMBIE]
    finally:
        for proc in chain:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        host.wait()


@pytest.mark.e2e  # a whole flow
def test_cleanup_keeps_a_recorded_endpoint(tiny_job):
    endpoint = deployed(tiny_job)
    try:
        harness("cleanup")
        assert psutil.pid_exists(endpoint["pid"])
        harness("predict", "-c", str(tiny_job), "fine")
    finally:
        harness("delete", "-c", str(tiny_job))


def test_cleanup_removes_containers_of_a_killed_command(tmp_path, tiny_bert, sentiment_files,
                                                         sagemaker_local_stack):
    import docker

    engine = docker.from_env()
    config = long_job(tmp_path, tiny_bert, sentiment_files)
    run = (tmp_path / "run").resolve()
    harness("prepare", "-c", str(config), "--mode", "sagemaker-local")

    def containers():
        return engine.containers.list(all=True, filters={"label": ownership.run_label(run)},
                                      ignore_removed=True)

    kill_harness_when(config, "sagemaker-local",
                      lambda: any(c.status == "running" for c in containers()))
    assert containers(), "the training container should have outlived the killed command"
    projects = {c.labels.get(docker_engine.COMPOSE_PROJECT) for c in containers()}
    result = harness("cleanup")
    assert "container" in result.stdout
    assert not containers()
    assert not labelled_processes(run)  # the SDK's docker-compose went too
    for network in engine.networks.list(names=["sagemaker-local"]):  # in use, or not the job's
        network.reload()
        creator = network.attrs["Labels"].get(docker_engine.COMPOSE_PROJECT)
        assert network.attrs["Containers"] or creator not in projects


def test_files_containers_wrote_as_root_are_given_back(tmp_path, sagemaker_local_stack):
    """What a non-root user gets before harness deletes a run's container folders."""
    import docker

    from harness.containers import docker_engine, image

    engine = docker.from_env()
    folder = tmp_path / "written-by-root"
    folder.mkdir()
    engine.containers.run(image.default_image(), ["sh", "-c", "mkdir /f/sub && touch /f/sub/x"],
                          entrypoint=[], remove=True, volumes={str(folder): {"bind": "/f"}})
    assert (folder / "sub" / "x").stat().st_uid == 0
    docker_engine.chown_tree(engine, image.default_image(), folder, 4321, 4321)
    assert {(p.stat().st_uid, p.stat().st_gid) for p in folder.rglob("*")} == {(4321, 4321)}


def test_a_container_gone_before_harness_acts_on_it_is_no_error(sagemaker_local_stack):
    """docker-compose may stop or remove a container between harness listing it and acting."""
    import docker

    from harness.containers import docker_engine, image

    engine = docker.from_env()
    container = engine.containers.run(image.default_image(), ["true"], entrypoint=[],
                                      detach=True, labels=ownership.container_labels())
    container.wait()
    with docker_engine.unless_gone():
        container.kill()  # 409: not running
    engine.api.remove_container(container.id)
    docker_engine.force_remove(container)  # 404: gone
    with pytest.raises(docker.errors.APIError), docker_engine.unless_gone():  # others raise
        engine.api.create_container(image.default_image(), ["true"], host_config={"Memory": 1})
