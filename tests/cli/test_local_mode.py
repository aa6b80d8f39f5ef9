"""Local mode: the SageMaker job tree, the env contract train.py sees, artifacts and failures."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness.config import load_config
from tests.support.cli import harness
from tests.support.runs import REPO, state, write_config

PROBE = '''
import json, os, sys
out = os.environ["SM_OUTPUT_DATA_DIR"]
with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items()
                                             if k.startswith("SM_")}}, f)
with open(os.path.join(out, "log_history.json"), "w") as f:
    json.dump([], f)
open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.bin"), "w").write("w")
'''


@pytest.fixture
def probe_job(tmp_path, tiny_job):
    """The tiny job, with train.py swapped for a script that records what it was given."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "probe.py").write_text(PROBE)
    return write_config(tmp_path, **{**_sections(tiny_job), "source_dir": str(tmp_path / "code"),
                                     "entry_point": "probe.py"})


def _sections(config_path):
    import yaml

    return yaml.safe_load(Path(config_path).read_text())


def test_script_sees_the_sagemaker_training_contract(probe_job):
    harness("prepare", "-c", str(probe_job))
    harness("train", "-c", str(probe_job))
    seen = state(probe_job)["metrics"]
    env, argv = seen["env"], seen["argv"]
    job = probe_job.parent / "run" / "job"
    assert env["SM_MODEL_DIR"] == str(job / "model")
    assert env["SM_OUTPUT_DATA_DIR"] == str(job / "output" / "data")
    assert env["SM_CHANNEL_TRAIN"] == str(job / "input" / "data" / "train")
    assert env["SM_CHANNEL_TEST"] == str(job / "input" / "data" / "test")
    assert Path(env["SM_CHANNEL_MODEL"], "config.json").is_file()  # pretrained weights channel
    assert env["SM_NUM_GPUS"] == "0"
    assert json.loads(env["SM_CHANNELS"]) == ["model", "test", "train"]
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_HP_EPOCHS"] == "1" and env["SM_HP_LEARNING_RATE"] == "0.001"
    assert json.loads(env["SM_HPS"])["train_batch_size"] == 8
    # The toolkit's argument order: sorted keys, `--key value`, no sagemaker_* keys; a script of
    # the user's gets exactly the config's hyperparameters (no --model_name: train.py's own).
    assert argv == ["--epochs", "1", "--eval_batch_size", "16", "--learning_rate", "0.001",
                    "--logging_steps", "1", "--seed", "7", "--train_batch_size", "8",
                    "--warmup_steps", "0"]
    hps = json.loads((job / "input" / "config" / "hyperparameters.json").read_text())
    assert json.loads(hps["sagemaker_program"]) == "probe.py"  # every value JSON-encoded
    assert hps["epochs"] == "1"


def test_train_py_refuses_to_run_outside_the_contract(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, str(REPO / "train" / "train.py")],
                            capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "missing SageMaker environment variables: SM_MODEL_DIR" in result.stderr


def test_train_produces_sagemaker_artifacts(tiny_job, tmp_path):
    harness("prepare", "-c", str(tiny_job))
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    harness("train", "-c", str(tiny_job), env={**os.environ, "TMPDIR": str(scratch)})
    assert list(scratch.iterdir()) == []  # nothing left in the temp folder
    run = state(tiny_job)
    job = tiny_job.parent / "run" / "job"
    assert sorted(p.name for p in (job / "input" / "config").iterdir()) == [
        "hyperparameters.json", "inputdataconfig.json", "resourceconfig.json"]
    assert (job / "output" / "success").exists()
    model_tar = Path(run["training"]["model_artifact"])
    assert model_tar.parts[-3:] == (run["training"]["job_name"], "output", "model.tar.gz")
    with tarfile.open(model_tar) as tar:
        names = set(tar.getnames())
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    with tarfile.open(run["training"]["output_artifact"]) as tar:
        assert {"success", "data/metrics.json", "data/eval_results.txt"} <= set(tar.getnames())
    for key in ("eval_accuracy", "eval_f1", "eval_precision", "eval_recall"):
        assert 0.0 <= run["metrics"][key] <= 1.0
    saved = json.loads((job / "model" / "config.json").read_text())
    assert saved["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert Path(run["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failing_script_keeps_the_traceback(tmp_path, tiny_job):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "boom.py").write_text("raise RuntimeError('disk on fire')\n")
    config = write_config(tmp_path, **{**_sections(tiny_job), "source_dir": str(tmp_path / "code"),
                                       "entry_point": "boom.py"})
    harness("prepare", "-c", str(config))
    result = harness("train", "-c", str(config), check=False)
    assert result.returncode == 1
    assert "RuntimeError: disk on fire" in result.stderr
    failure = tmp_path / "run" / "output" / "failure"  # the same place in every mode
    assert "RuntimeError: disk on fire" in failure.read_text()
    assert "training" not in state(config)


def test_more_processes_than_cores_says_how_many_fit(tiny_job):
    import os

    result = harness("train", "-c", str(tiny_job), "--set", "modes.local.processes=99",
                     check=False)
    assert result.returncode == 1
    assert f"modes.local.processes is 99, but this machine has {os.cpu_count()} CPU cores" \
        in result.stderr
    assert f"set modes.local.processes to at most {os.cpu_count()}" in result.stderr


def test_steps_out_of_order_say_what_to_run(tiny_job):
    result = harness("train", "-c", str(tiny_job), check=False)
    assert result.returncode == 1
    assert "run `harness prepare` first" in result.stderr


@pytest.mark.e2e  # a whole flow
def test_guide_config_loads_through_the_real_path(tmp_path, tiny_bert):
    """configs/imdb-distilbert.yaml, with the hub names swapped for a local DistilBERT and a
    local imdb-shaped dataset folder: load_dataset(name) and from_pretrained(name) as for the hub."""
    from datasets import ClassLabel, Dataset, Features, Value
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    distilbert = tmp_path / "distilbert-base-uncased"
    DistilBertModel(DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                     max_position_embeddings=128)).save_pretrained(distilbert)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(distilbert)
    imdb = tmp_path / "imdb"
    imdb.mkdir()
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    texts = ["a wonderful, moving film", "dull and far too long"] * 10
    for split in ("train", "test"):
        Dataset.from_dict({"text": texts, "label": [1, 0] * 10}, features=features) \
            .to_parquet(imdb / f"{split}.parquet")
    overrides = [f"model={distilbert}", f"dataset.name={imdb}", "dataset.max_length=64",
                 "dataset.max_train_samples=8", "dataset.max_eval_samples=4",
                 "hyperparameters.warmup_steps=0", f"run_dir={tmp_path / 'run'}",
                 f"source_dir={REPO / 'train'}"]
    config = REPO / "configs" / "imdb-distilbert.yaml"
    assert load_config(config, overrides).hyperparameters["train_batch_size"] == 32
    harness("prepare", "-c", str(config), *[f"--set={o}" for o in overrides])
    harness("train", "-c", str(config), *[f"--set={o}" for o in overrides])
    run = json.loads((tmp_path / "run" / "state.json").read_text())
    assert run["prepared"]["rows"] == {"train": 8, "test": 4}
    assert run["prepared"]["labels"] == ["NEGATIVE", "POSITIVE"]
    model_config = json.loads((tmp_path / "run" / "job" / "model" / "config.json").read_text())
    assert model_config["model_type"] == "distilbert"
    assert model_config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
