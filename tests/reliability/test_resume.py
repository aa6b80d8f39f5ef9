"""Checkpoints and spot-style reclaims: a killed job resumes and ends where an unbroken one does."""

from __future__ import annotations

import re

import pytest

from harness.checkpoints import MARK, with_restarts
from harness.errors import StepError
from tests.support.cli import harness
from tests.support.runs import recipe, state, write_config

TOLERANCE = 1e-6  # the parity tolerance: same seed, same CPU, same builds
METRICS = ("eval_accuracy", "eval_f1", "eval_loss")
STEP_LINE = re.compile(r"^.*\btrain step +\d+/\d+ .* loss +[-+0-9.e]+", re.MULTILINE)


@pytest.fixture
def checkpointed(tmp_path, tiny_bert, sentiment_files):
    """Two configs (unbroken, reclaimed) that differ only in their run dir: 2 epochs of 8 steps,
    a checkpoint every 3 steps, so the first one lands mid-epoch."""
    def config(name: str, **extra):
        folder = tmp_path / name
        folder.mkdir()
        return write_config(
            folder, model=str(tiny_bert), checkpoints={"enabled": True},
            dataset={"train_file": str(sentiment_files["train"]),
                     "test_file": str(sentiment_files["test"]), "max_length": 64},
            hyperparameters={"epochs": 2, "train_batch_size": 4, "eval_batch_size": 16,
                             "learning_rate": 1e-3, "seed": 7, "logging_steps": 1,
                             "checkpoint_steps": 3},
            s3={"prefix": name}, **extra)
    return config


def resumed_from(log: str) -> str:
    return re.search(r"resuming from \S*/(checkpoint-\d+)", log).group(1)


def reclaim_and_compare(unbroken, reclaimed, mode: str):
    for config in (unbroken, reclaimed):
        harness("prepare", "-c", str(config), "--mode", mode)
    harness("train", "-c", str(unbroken), "--mode", mode)
    result = harness("train", "-c", str(reclaimed), "--mode", mode,
                     "--interrupt-after-checkpoint", "1")
    killed_after = re.search(r"killed after (checkpoint-\d+)", result.stdout).group(1)
    log = (reclaimed.parent / "run" / "train.log").read_text()
    # The restart resumed from the newest checkpoint that existed when the job was killed.
    assert resumed_from(log) == killed_after
    step = int(killed_after.split("-")[1])
    assert step < 16
    # The restart ran only the steps after that checkpoint (one loss line logged per step).
    assert len(STEP_LINE.findall(log.split("resuming from", 1)[1])) == 16 - step
    assert "resuming from" not in (unbroken.parent / "run" / "train.log").read_text()
    expected, got = state(unbroken)["metrics"], state(reclaimed)["metrics"]
    for key in METRICS:
        assert got[key] == pytest.approx(expected[key], abs=TOLERANCE), key
    return state(reclaimed)


@pytest.mark.e2e  # a whole flow
def test_local_reclaim_resumes_to_the_same_metrics(checkpointed):
    reclaimed = checkpointed("reclaimed")
    run = reclaim_and_compare(checkpointed("unbroken"), reclaimed, "local")
    # Storage (S3's mirror in local mode) holds the job's complete checkpoints.
    stored = next((reclaimed.parent / "run" / "s3").rglob(
        f"{run['training']['job_name']}/checkpoints"))
    names = [p.name for p in stored.iterdir()]
    assert names and all((stored / name / "checkpoint-complete").is_file() for name in names)


def test_sagemaker_local_reclaim_resumes_to_the_same_metrics(checkpointed, sagemaker_local_stack):
    import boto3
    import docker

    from harness.modes.sagemaker_local.session import CREDENTIALS

    reclaimed = checkpointed("reclaimed")
    run = reclaim_and_compare(checkpointed("unbroken"), reclaimed, "sagemaker-local")
    # The checkpoints went to LocalStack's S3, where a new instance would fetch them from.
    s3 = boto3.client("s3", endpoint_url=sagemaker_local_stack, **CREDENTIALS)
    prefix = f"reclaimed/{run['training']['job_name']}/checkpoints/"
    keys = {o["Key"].removeprefix(prefix) for o in s3.list_objects_v2(
        Bucket="harness-artifacts", Prefix=prefix).get("Contents", [])}
    names = {key.split("/")[0] for key in keys}
    assert names and all(f"{name}/checkpoint-complete" in keys for name in names)  # complete only
    engine = docker.from_env()  # and both attempts' containers are gone
    assert not engine.containers.list(all=True, filters={
        "label": f"harness.run={(reclaimed.parent / 'run').resolve()}"})


def test_reclaim_without_checkpoints_is_refused(tiny_job):
    harness("prepare", "-c", str(tiny_job))
    result = harness("train", "-c", str(tiny_job), "--interrupt-after-checkpoint", "1",
                     check=False)
    assert result.returncode != 0
    assert "checkpoints.enabled: true" in result.stderr


def test_a_half_written_checkpoint_is_never_resumed_from(train_py, tmp_path):
    for step, complete in ((3, True), (6, True), (9, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"partial")
        if complete:
            (folder / recipe("sm_training.py").COMPLETE).write_text(str(step))
    assert train_py.latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-6")
    assert not (tmp_path / "checkpoint-9").exists()
    assert train_py.latest_complete_checkpoint(None) is None


def test_a_checkpoint_killed_mid_write_never_reaches_storage(tmp_path):
    folder, saved = tmp_path / "checkpoints", []

    def killed_while_writing_the_second(reclaim):
        for step, complete in ((3, True), (6, False)):
            (folder / f"checkpoint-{step}").mkdir()
            if complete:
                (folder / f"checkpoint-{step}" / MARK).write_text(str(step))
        raise StepError("train.py failed with exit code -9", "")

    with pytest.raises(StepError):
        with_restarts(killed_while_writing_the_second, folder=folder, interrupt_after=0,
                      restore=lambda local: None,
                      save=lambda checkpoint: saved.append(checkpoint.name))
    assert saved == ["checkpoint-3"]
