"""Endpoint lifecycle and Ctrl-C: no orphan process, no bound port, whatever happens."""


import json
import os
import shutil
import signal
import subprocess
import tarfile
from pathlib import Path

import psutil
import pytest

from harness.config import load_config
from harness.errors import StepError
from harness.host import endpoint_process, invocations
from harness.host.endpoint_process import free_port
from tests.support.cli import harness, harness_process, harness_started
from tests.support.processes import alive, interrupt_when, wait_for
from tests.support.runs import deployed, state, write_config


def start_endpoint(model_dir, tmp_path, port, timeout_s=60):
    command = endpoint_process.serve_command(model_dir, name="t", port=port)
    return endpoint_process.start(command, name="t", port=port, startup_timeout_s=timeout_s,
                                log=tmp_path / "server.log", env=dict(os.environ))


def test_start_predict_stop_frees_the_port(tiny_classifier, tmp_path):
    port = free_port()
    endpoint = start_endpoint(tiny_classifier, tmp_path, port)
    assert endpoint_process.listening(port)
    answer = invocations.invoke(endpoint.url, {"inputs": "a fine film"})
    assert answer[0]["label"] in ("NEGATIVE", "POSITIVE")
    endpoint_process.stop(endpoint)
    assert not endpoint_process.listening(port)
    assert not psutil.pid_exists(endpoint.pid) or \
        psutil.Process(endpoint.pid).status() == psutil.STATUS_ZOMBIE


def test_busy_port_is_refused_with_a_fix(tiny_classifier, tmp_path):
    port = free_port()
    endpoint = start_endpoint(tiny_classifier, tmp_path, port)
    try:
        with pytest.raises(StepError, match=f"port {port} is already in use") as error:
            start_endpoint(tiny_classifier, tmp_path, port)
        assert "endpoint.port" in error.value.hint
    finally:
        endpoint_process.stop(endpoint)


def test_server_that_cannot_load_leaves_nothing(tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    port = free_port()
    with pytest.raises(StepError, match="exited with code") as error:
        start_endpoint(broken, tmp_path, port)
    assert "see" in error.value.hint
    assert not endpoint_process.listening(port)


def test_slow_server_times_out_and_is_stopped(tiny_classifier, tmp_path):
    model_dir = tmp_path / "slow"
    shutil.copytree(tiny_classifier, model_dir)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(
        "import time\ndef model_fn(model_dir):\n    time.sleep(600)\n")
    port = free_port()
    with pytest.raises(StepError, match="did not answer /ping within 3 s"):
        start_endpoint(model_dir, tmp_path, port, timeout_s=3)
    assert not [p for p in psutil.process_iter(["cmdline"])
                if str(model_dir) in " ".join(p.info["cmdline"] or [])]


@pytest.mark.e2e  # a whole flow
def test_cli_deploy_predict_delete(tiny_job):
    endpoint = deployed(tiny_job)
    try:
        assert endpoint_process.listening(endpoint["port"])
        out = harness("predict", "-c", str(tiny_job), "great film", "awful film").stdout
        answer = json.loads(out)
        assert [item["label"] in ("NEGATIVE", "POSITIVE") for item in answer] == [True, True]
        bad = harness("predict", "-c", str(tiny_job), "--json", '{"text": 1}', check=False)
        assert bad.returncode == 1 and "answered 400" in bad.stderr
    finally:
        harness("delete", "-c", str(tiny_job))
    assert not endpoint_process.listening(endpoint["port"])
    assert state(tiny_job)["endpoint"] is None
    again = harness("delete", "-c", str(tiny_job), check=False)
    assert "run `harness deploy` first" in again.stderr


def test_ctrl_c_reaches_harness_started_in_the_background_of_a_script(tmp_path):
    """`harness train &` in a script starts harness with SIGINT ignored; `kill -INT` must
    still stop it, and what it started, as Ctrl-C does."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleeps.py").write_text("print('started', flush=True)\nimport time\n"
                                    "time.sleep(300)\n")
    config = write_config(tmp_path, source_dir=str(code), entry_point="sleeps.py",
                          dataset=None, model=None)
    log = tmp_path / "run" / "train.log"
    proc = harness_process("train", "-c", str(config), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    exit_code, children, _ = interrupt_when(
        proc, lambda: log.exists() and "started" in log.read_text(errors="ignore"))
    assert exit_code == 130, proc.stderr.read()
    wait_for(lambda: not alive(children), 20)


@pytest.mark.e2e  # a whole flow
def test_ctrl_c_during_train_leaves_no_process(tiny_job):
    harness("prepare", "-c", str(tiny_job))
    log = tiny_job.parent / "run" / "train.log"
    proc = harness_started("train", "-c", str(tiny_job), "--set", "hyperparameters.epochs=50")
    code, children, _ = interrupt_when(
        proc, lambda: log.exists() and "train step" in log.read_text(errors="ignore"))
    assert code == 130
    assert "interrupted" in proc.stderr.read()
    assert len(children) >= 2  # accelerate launch and the train.py it started
    wait_for(lambda: not alive(children), 20)


@pytest.mark.e2e  # a whole flow
def test_ctrl_c_during_deploy_frees_the_port(tiny_job, tmp_path):
    harness("prepare", "-c", str(tiny_job))
    harness("train", "-c", str(tiny_job))
    model_tar = Path(state(tiny_job)["training"]["model_artifact"])
    code = tmp_path / "code"  # the same model, with a model_fn that hangs
    code.mkdir()
    (code / "inference.py").write_text("import time\ndef model_fn(d):\n    time.sleep(600)\n")
    slow = tmp_path / "slow-model.tar.gz"
    with tarfile.open(model_tar) as src, tarfile.open(slow, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        dst.add(code, arcname="code")
    shutil.copyfile(slow, model_tar)
    proc = harness_started("deploy", "-c", str(tiny_job))
    server_log = tiny_job.parent / "run" / "endpoint" / "server.log"
    code, children, commands = interrupt_when(proc, server_log.exists)
    assert code == 130
    assert any("harness.serving" in command for command in commands)
    wait_for(lambda: not alive(children), 20)
    port = load_config(tiny_job).endpoint.port
    assert not endpoint_process.listening(port)
    assert state(tiny_job).get("endpoint") is None


@pytest.mark.e2e  # a whole flow
def test_run_refuses_to_forget_a_live_endpoint(tiny_job):
    harness("prepare", "-c", str(tiny_job))
    harness("train", "-c", str(tiny_job))
    harness("deploy", "-c", str(tiny_job))
    try:
        result = harness("run", "-c", str(tiny_job), check=False)
        assert result.returncode == 1
        assert "still up" in result.stderr and "harness delete" in result.stderr
        assert state(tiny_job)["endpoint"] is not None  # still tracked, so delete still works
    finally:
        harness("delete", "-c", str(tiny_job))
