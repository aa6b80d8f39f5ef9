"""What keeps runs apart: a lock per run dir, an S3 prefix per run dir, and a cleanup that
removes only what crashed harness commands left (not an endpoint still starting, not a network
harness did not create)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import psutil

from harness.commands.cleanup import leftover_processes
from harness.config import load_config
from harness.containers import docker_engine
from harness.host import ownership
from harness.host.endpoint_process import free_port
from harness.pytest_plugin import require_docker
from harness.run_dir import RunDir, TrainingResult
from harness.summary import render
from tests.support.cli import harness, harness_process
from tests.support.runs import REPO, state, write_config

HOLD = """
import sys, time
from harness.run_dir import RunDir
with RunDir(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(300)
"""


@contextlib.contextmanager
def held(run: Path):
    """Another process holds the run dir."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


# -- the run-dir lock -----------------------------------------------------------------------------

def test_reading_commands_work_while_the_run_dir_is_busy(tmp_path):
    config = write_config(tmp_path)
    with held(tmp_path / "run"):
        changing = harness("train", "-c", str(config), check=False)
        assert "is busy" in changing.stderr
        reading = harness("predict", "-c", str(config), "hello", check=False)
        assert "is busy" not in reading.stderr
        assert "run `harness deploy` first" in reading.stderr


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    with held(tmp_path) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with RunDir(tmp_path).lock():  # the kernel let go with the process
            pass


def at_once(run_dir, statement: str, times: int, keys: tuple[str, str]) -> None:
    """Two processes, each running `statement` `times` times on the run dir at once (with
    its `key` and the count `i`); both must end well."""
    writer = ("import sys\nfrom harness.run_dir import RunDir\nrun, key = RunDir(sys.argv[1]), "
              f"sys.argv[2]\nfor i in range({times}):\n    {statement}\n")
    writers = [subprocess.Popen([sys.executable, "-c", writer, str(run_dir), key], cwd=REPO)
               for key in keys]
    assert [w.wait() for w in writers] == [0, 0]


def test_writers_of_the_state_take_turns(tmp_path):
    """A predict may save while another command holds the run dir: no update is lost."""
    at_once(tmp_path, "run.save(**{key: i})", 150, ("first", "second"))
    saved = RunDir(tmp_path).load()
    assert (saved["first"], saved["second"]) == (149, 149)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_command_waiting_at_the_cost_prompt_holds_no_lock(tmp_path):
    """The user may take minutes to answer: meanwhile other commands use the run dir."""
    import pty

    config = write_config(tmp_path, modes={"sagemaker": {
        "role": "arn:aws:iam::111122223333:role/SageMakerRole", "region": "eu-west-1"}})
    terminal, answers = pty.openpty()  # the prompt asks only a terminal
    no_aws = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    asking = harness_process("train", "-c", str(config), "--mode", "sagemaker", stdin=answers,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=no_aws)
    os.close(answers)
    try:
        shown = b""
        while b"Go ahead?" not in shown:
            chunk = os.read(asking.stdout.fileno(), 4096)
            assert chunk, shown.decode()  # it ended before asking
            shown += chunk
        with RunDir(load_config(config).run_path).lock():
            pass
    finally:
        asking.kill()
        asking.wait()
        os.close(terminal)


def test_step_times_recorded_at_once_are_all_kept(tmp_path):
    """A predict records its time while another command records its own: none is lost."""
    at_once(tmp_path, "run.record_time(f'{key}-{i}', i)", 100, ("train", "predict"))
    timings = RunDir(tmp_path).load()["timings"]
    assert sorted(timings) == sorted(f"{key}-{i}" for key in ("train", "predict")
                                     for i in range(100))


# -- S3 isolation ---------------------------------------------------------------------------------

def test_each_run_dir_has_its_own_s3_prefix(tmp_path, monkeypatch):
    first, second = tmp_path / "clone-1", tmp_path / "clone-2"
    for folder in (first, second):
        folder.mkdir()
    one, two = (load_config(write_config(folder)) for folder in (first, second))
    assert one.name == two.name == "sentiment-minilm"
    assert re.fullmatch(r"sentiment-minilm-[0-9a-f]{8}", one.s3_prefix)
    assert one.s3_prefix != two.s3_prefix
    # The same run dir, however it is written, keeps its prefix (a rerun finds its data).
    monkeypatch.chdir(first)
    relative = load_config(write_config(first, run_dir="run"))
    assert relative.s3_prefix == one.s3_prefix
    given = load_config(write_config(first, s3={"prefix": "team/shared"}))
    assert given.s3_root == "s3://harness-artifacts/team/shared"


def test_the_summary_shows_where_the_run_stores(tmp_path):
    shown = render({"mode": "local"}, "runs/x", "s3://harness-artifacts/x-0a1b2c3d")
    assert "  storage:   s3://harness-artifacts/x-0a1b2c3d" in shown.splitlines()


def test_two_clones_with_one_name_never_share_keys(tmp_path, sagemaker_local_stack):
    """A CI job in a fresh clone is never refused, nor mixed up with an earlier clone's data."""
    from tests.support.runs import read_object

    channels = []
    for clone in ("clone-1", "clone-2"):
        folder = tmp_path / clone
        folder.mkdir()
        config = write_config(folder, dataset={"max_train_samples": 8, "max_eval_samples": 4})
        harness("prepare", "-c", str(config), "--mode", "sagemaker-local")
        channels.append(state(config)["prepared"]["channels"]["train"])
    assert channels[0] != channels[1]
    for uri in channels:
        assert read_object(sagemaker_local_stack, f"{uri}/dataset_info.json")


# -- cleanup's scope ------------------------------------------------------------------------------

def slow_model(tmp_path: Path, tiny_classifier: Path) -> Path:
    """A run dir whose trained model takes minutes to load (its model_fn sleeps)."""
    model = tmp_path / "model"
    shutil.copytree(tiny_classifier, model)
    (model / "code").mkdir()
    (model / "code" / "inference.py").write_text("import time\ndef model_fn(d):\n"
                                                 "    time.sleep(300)\n")
    artifact = tmp_path / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        for entry in sorted(model.iterdir()):
            tar.add(entry, arcname=entry.name)
    config = write_config(tmp_path, endpoint={"port": free_port(), "startup_timeout_s": 120})
    RunDir(tmp_path / "run", "local").save(training=TrainingResult(
        job_name="slow", model_artifact=str(artifact), output_artifact=""))
    return config


def endpoint_processes(run: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            env = proc.environ()
            if env.get(ownership.OWNER) == ownership.ENDPOINT and \
                    env.get(ownership.RUN) == str(run.resolve()) and \
                    proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def test_an_endpoint_still_starting_is_no_leftover(tmp_path, tiny_classifier):
    config = slow_model(tmp_path, tiny_classifier)
    run = tmp_path / "run"
    deploy = harness_process("deploy", "-c", str(config), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not endpoint_processes(run):
            assert deploy.poll() is None and time.monotonic() < deadline, "no endpoint started"
            time.sleep(0.2)
        server = endpoint_processes(run)[0]
        result = harness("cleanup")
        assert f"process {server.pid}" not in result.stdout
        assert server.is_running() and server.status() != psutil.STATUS_ZOMBIE
        # Once the deploy that started it is gone without recording it, it is a leftover.
        deploy.send_signal(signal.SIGKILL)
        deploy.wait()
        assert f"process {server.pid}" in harness("cleanup").stdout
        psutil.wait_procs([server], timeout=10)
        assert not endpoint_processes(run)
    finally:
        if deploy.poll() is None:
            deploy.kill()
        for proc in endpoint_processes(run):
            proc.kill()


def test_an_endpoint_of_an_unreadable_run_is_kept(tmp_path):
    """A corrupt state.json cannot say which endpoint is recorded: keep the run's endpoints."""
    run = tmp_path / "run"
    RunDir(run).save(endpoint=None)
    env = {**os.environ, ownership.OWNER: ownership.ENDPOINT, ownership.RUN: str(run.resolve()),
           ownership.STARTER: "1:0.00"}  # its deploy is long gone
    endpoint = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env)
    try:
        time.sleep(0.5)
        assert endpoint.pid in [p.pid for p in leftover_processes()]  # readable, not named
        (run / "state.json").write_text("{ broken")
        assert endpoint.pid not in [p.pid for p in leftover_processes()]
    finally:
        endpoint.kill()
        endpoint.wait()


def test_a_network_harness_did_not_create_is_kept():
    require_docker()
    engine = docker_engine.client()
    name = f"harness-test-{uuid.uuid4().hex[:8]}"
    engine.networks.create(name, labels={docker_engine.COMPOSE_PROJECT: "users-own-project"})
    try:
        assert not docker_engine.remove_sdk_network(engine, ["tmpharness1"], name=name)
        assert engine.networks.list(names=[name])  # idle, but not harness's
        assert docker_engine.remove_sdk_network(engine, ["users-own-project"], name=name)
        assert not engine.networks.list(names=[name])
    finally:
        for network in engine.networks.list(names=[name]):
            network.remove()
