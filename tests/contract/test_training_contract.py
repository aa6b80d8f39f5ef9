"""What a training script sees and leaves behind, the same in every mode."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
import time

from harness.job import open_job
from tests.support.runs import REPO, state

HARNESS = REPO / "harness"


def trained(config, mode, *extra: str):
    mode.harness("prepare", "-c", str(config))
    mode.harness("train", "-c", str(config), *extra)
    return open_job(config, [], mode.name), state(config)


def members(job, uri: str) -> set[str]:
    with job.storage.open(uri) as source, tarfile.open(fileobj=source) as tar:
        return set(tar.getnames())


def test_the_script_sees_the_training_contract(mode, contract_job):
    job, run = trained(contract_job("probe.py"), mode)
    seen = json.loads((job.run.output_dir / "data" / "seen.json").read_text())
    env = seen["env"]
    # Hyperparameters arrive as `--key value` pairs, SM_HP_<KEY> and SM_HPS.
    args = dict(zip(seen["argv"][::2], seen["argv"][1::2], strict=True))
    expected = job.hyperparameters()
    assert args == {f"--{key}": str(value) for key, value in expected.items()}
    assert json.loads(env["SM_HPS"]) == expected
    assert env["SM_HP_EPOCHS"] == "2" and env["SM_HP_LEARNING_RATE"] == "0.001"
    # Every channel is a folder holding what prepare stored.
    assert json.loads(env["SM_CHANNELS"]) == ["model", "test", "train"]
    for split in ("train", "test"):
        assert {"dataset_info.json", "state.json"} <= set(seen["channels"][split])
    assert "config.json" in seen["channels"]["model"]
    # The container layout, wherever /opt/ml is.
    assert env["SM_MODEL_DIR"].endswith("/model")
    assert env["SM_OUTPUT_DATA_DIR"].endswith("/output/data")
    assert env["SM_CURRENT_HOST"].startswith("algo-1")
    assert json.loads(env["SM_HOSTS"]) == [env["SM_CURRENT_HOST"]]
    assert int(env["SM_NUM_CPUS"]) >= 1 and env["SM_NUM_GPUS"].isdigit()
    assert run["training"]["job_name"].startswith(job.config.name)


def test_artifacts_are_where_sagemaker_puts_them(mode, contract_job):
    job, run = trained(contract_job("probe.py"), mode)
    name = run["training"]["job_name"]
    assert run["training"]["model_artifact"] == job.storage.model_artifact(name)
    assert run["training"]["output_artifact"] == job.storage.output_artifact(name)
    # Each archive holds its folder's entries at its root.
    assert {"written-by-the-script.txt", "config.json"} <= members(
        job, job.storage.model_artifact(name))
    assert {"success", "data/seen.json"} <= members(job, job.storage.output_artifact(name))


def test_a_failing_script_names_itself_and_keeps_its_failure_file(mode, contract_job):
    config = contract_job("fail.py")
    mode.harness("prepare", "-c", str(config))
    result = mode.harness("train", "-c", str(config), check=False)
    assert result.returncode == 1
    assert "fail.py failed" in result.stderr
    assert "the contract's failure marker" in result.stderr
    assert str(HARNESS) not in result.stderr  # the script's error, not one of harness's frames
    failure = config.parent / "run" / "output" / "failure"  # the same place in every mode
    assert "the contract's failure marker" in failure.read_text()
    assert "training" not in state(config)
    assert mode.left_behind(config.parent / "run") == []


def test_checkpoints_survive_a_reclaim(mode, contract_job):
    """A rehearsed spot reclaim: what the script checkpointed goes to storage, and the restarted
    job starts with it restored, as a new instance would. Where reclaims are real (SageMaker),
    the rehearsal is refused with the reason."""
    config = contract_job("checkpointing.py", checkpoints={"enabled": True})
    if not mode.rehearses_reclaims:
        mode.harness("prepare", "-c", str(config))
        refused = mode.harness("train", "-c", str(config), "--interrupt-after-checkpoint", "1",
                               check=False)
        assert refused.returncode == 1 and "they are real" in refused.stderr
        return
    job, run = trained(config, mode, "--interrupt-after-checkpoint", "1")
    seen = json.loads((job.run.output_dir / "data" / "seen.json").read_text())
    assert seen["restored"] == {"step-1.pt": "weights after step 1"}
    stored = job.storage.checkpoints(run["training"]["job_name"])
    with job.storage.open(f"{stored}/step-1.pt") as saved:
        assert saved.read() == b"weights after step 1"
    assert mode.left_behind(config.parent / "run") == []


def test_ctrl_c_during_training_leaves_nothing(mode, contract_job):
    config = contract_job("slow.py")
    run = config.parent / "run"
    # The CLI as its own process (FakeMode registered in it as in this one, its in-memory
    # storage with it: hence `run`, not `prepare` here and `train` there), signalled as a
    # terminal's Ctrl-C signals it.
    cli = subprocess.Popen(
        [sys.executable, "-c", "from tests.contract import fake_mode; fake_mode.register(); "
         "from harness.cli import main; main()", "run", "-c", str(config), "--mode", mode.name,
         "--yes"], cwd=REPO, env=mode.environ(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not mode.training_started(run):
            assert cli.poll() is None and time.monotonic() < deadline, "training never started"
            time.sleep(0.2)
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=90) == 130, cli.stderr.read()
    finally:
        if cli.poll() is None:
            cli.kill()
    deadline = time.monotonic() + 30
    while mode.left_behind(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mode.left_behind(run) == []
    assert "interrupted" in cli.stderr.read()


def test_emulated_tuning_stores_no_channel_its_trials_stage_themselves(tmp_path):
    """Each emulated trial is a `harness train` that stages its own channels: the tuning
    command itself uploads none (here every trial fails at once, in a process of its own
    without FakeMode, so no trial stores anything either)."""
    import pytest

    from harness.commands import tune
    from harness.errors import StepError
    from tests.contract.conftest import SCRIPTS
    from tests.contract.fake_mode import NAME
    from tests.support.runs import write_config

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "rows.txt").write_text("a row\n")
    config = write_config(
        tmp_path, dataset=None, model=None, source_dir=str(SCRIPTS), entry_point="probe.py",
        inputs={"extra": str(extra)},
        tuning={"objective_metric_name": "eval_loss", "max_jobs": 1, "max_parallel_jobs": 1,
                "hyperparameter_ranges": {"learning_rate": {
                    "type": "continuous", "min_value": 1e-5, "max_value": 1e-3}}})
    job = open_job(config, [], NAME)
    with pytest.raises(StepError, match="no trial completed"):
        tune.tune(job, announce=lambda line: None)
    assert not job.storage.exists(job.storage.channel("extra"))
