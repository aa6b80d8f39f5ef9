"""Config errors name the file, the key and what was expected; the mode is decided once."""

import os
from pathlib import Path

import pytest

from harness import modes
from harness.config import load_config, resolve_model
from harness.errors import ConfigError, HarnessError
from tests.support.cli import harness
from tests.support.runs import DEFAULT_CONFIG, REPO, write_config


def test_default_config_is_valid_and_offline():
    config = load_config(DEFAULT_CONFIG)
    assert Path(resolve_model(config), "model.safetensors").is_file()
    assert config.modes.for_mode("sagemaker").instance_type == "ml.p3.2xlarge"
    assert config.modes.for_mode("sagemaker").inference_instance_type == "ml.g4dn.xlarge"


def test_guide_config_reproduces_the_guide():
    config = load_config(REPO / "configs" / "imdb-distilbert.yaml")
    assert config.model == "distilbert-base-uncased"
    assert config.dataset.name == "imdb"
    assert (config.hyperparameters["epochs"], config.hyperparameters["train_batch_size"]) == (1, 32)
    assert resolve_model(config) == "distilbert-base-uncased"  # a hub id, loaded as such


@pytest.mark.parametrize("sections, expected", [
    ({"epochz": 3}, ["epochz: unknown key"]),
    ({"hyperparameters": {"epochs": "three"}}, ["hyperparameters.epochs", "three"]),
    ({"hyperparameters": {"train_batch_size": 0}}, ["hyperparameters.train_batch_size",
                                                    "greater than 0"]),
    ({"modes": {"sagemaker": {"instance_typ": "ml.p3.2xlarge"}}},
     ["modes.sagemaker.instance_typ: unknown key"]),
    ({"s3": {"bucket": "x"}}, ["s3.bucket"]),
    ({"dataset": {"name": "imdb"}}, ["dataset", "not both"]),
    ({"modes": {"local": {"instance_count": 2}}},
     ["modes.local.instance_count", "set modes.local.processes"]),
    ({"modes": {"local": {"processes": 0}}}, ["modes.local.processes", "greater than 0"]),
    ({"modes": {"sagemaker-local": {"processes": 2}}},
     ["modes.sagemaker-local.processes: unknown key"]),
    ({"modes": {"sagemaker-local": {"instance_count": 0}}},
     ["modes.sagemaker-local.instance_count", "greater than 0"]),
])
def test_invalid_config_names_file_and_key(tmp_path, sections, expected):
    path = write_config(tmp_path, **sections)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_missing_required_key(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("name: x1\ndataset: {name: imdb}\n")
    with pytest.raises(ConfigError, match="model: required key is missing"):
        load_config(path)


def test_missing_data_file_is_named(tmp_path):
    path = write_config(tmp_path, dataset={"train_file": "nope/train.jsonl"})
    with pytest.raises(ConfigError, match=r"dataset.train_file: file not found: .*nope/train.jsonl"):
        load_config(path)


def test_missing_model_folder_and_package(tmp_path):
    with pytest.raises(ConfigError, match="model: folder not found"):
        load_config(write_config(tmp_path, model="./no-such-model"))
    with pytest.raises(ConfigError, match="pip install no-such-pkg"):
        load_config(write_config(tmp_path, model="package:no_such_pkg/model"))


def test_missing_config_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_a_config_path_that_is_no_readable_file_is_a_config_error(tmp_path):
    result = harness("train", "-c", str(tmp_path), check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"config file {tmp_path} is a folder" in result.stderr
    assert "pass a YAML file" in result.stderr
    link = tmp_path / "moved.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    with pytest.raises(ConfigError, match=f"config file not found: {link}"):
        load_config(link)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\xff\xfe\x00weights")
    with pytest.raises(ConfigError, match=f"config file {binary} is not UTF-8 text"):
        load_config(binary)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_config_file_is_a_config_error(tmp_path):
    config = write_config(tmp_path)
    config.chmod(0)
    with pytest.raises(ConfigError, match=f"config file {config} cannot be read"):
        load_config(config)


def test_overrides_are_validated_like_the_file(tmp_path):
    path = write_config(tmp_path)
    config = load_config(path, ["hyperparameters.epochs=1", "endpoint.port=9001"])
    assert (config.hyperparameters["epochs"], config.endpoint.port) == (1, 9001)
    with pytest.raises(ConfigError, match="hyperparameters.nope: unknown key"):
        load_config(path, ["hyperparameters.nope=1"])
    with pytest.raises(ConfigError, match="use --set key.subkey=value"):
        load_config(path, ["epochs"])


def test_a_mistyped_train_py_hyperparameter_fails_before_anything_runs(tmp_path):
    result = harness("train", "-c", str(DEFAULT_CONFIG), "--set", "hyperparameters.epochs=abc",
                     "--set", f"run_dir={tmp_path}/run", check=False)
    assert result.returncode != 0 and "usage:" not in result.stderr
    assert len(result.stderr.splitlines()) <= 4
    assert "hyperparameters.epochs: Input should be a valid integer" in result.stderr
    assert "python train/train.py --help" in result.stderr
    assert not (tmp_path / "run").exists()


def test_train_py_hyperparameters_match_its_arguments():
    """TrainPyHyperparameters types each argument as train.py's parser does (no drift)."""
    import ast
    import typing

    from harness.config.schema import TrainPyHyperparameters

    types = {"int": int, "positive": int, "float": float, "boolean": bool, "None": str,
             "str": str}
    parsed = {}
    for node in ast.walk(ast.parse((REPO / "train" / "train.py").read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            given = {k.arg: k.value for k in node.keywords}
            choices = given.get("choices")
            parsed[node.args[0].value.removeprefix("--")] = (
                typing.Literal[tuple(ast.literal_eval(choices))] if choices else
                types[ast.unparse(given["type"]) if "type" in given else "None"])
    del parsed["model_name"]  # sent from `model`, not a hyperparameter
    fields = TrainPyHyperparameters.model_fields
    assert {name: fields[name].annotation for name in fields} == \
        {name: typ | None for name, typ in parsed.items()}


def test_mode_is_chosen_once_flag_then_env(monkeypatch):
    monkeypatch.delenv(modes.MODE_ENV, raising=False)
    assert modes.choose(None) == "local"
    monkeypatch.setenv(modes.MODE_ENV, "sagemaker")
    assert modes.choose(None) == "sagemaker"
    assert modes.choose("local") == "local"
    monkeypatch.setenv(modes.MODE_ENV, "cloud")
    with pytest.raises(HarnessError) as refused:
        modes.choose(None)
    assert refused.value.message == \
        "unknown mode 'cloud'; valid modes: local, sagemaker-local, sagemaker"


def test_cli_reports_config_errors_without_traceback(tmp_path):
    result = harness("run", "-c", str(write_config(tmp_path, epochz=1)), check=False)
    assert result.returncode == 1
    assert "epochz: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
