"""The estimator's own config keys (`inputs`, `hyperparameters`, `metric_definitions`) and
what is required without the built-in flow, validated once with the key and the fix."""

import pytest

from harness.config import load_config
from harness.errors import ConfigError
from tests.support.runs import write_config
from tests.user_script.conftest import write_user_config


def own(tmp_path, user_code, user_data, **extra):
    return write_user_config(tmp_path, user_code, {"training": str(user_data["training"])},
                             **extra)


def test_own_script_takes_any_hyperparameters_exactly(tmp_path, user_code, user_data):
    config = load_config(own(tmp_path, user_code, user_data), [
        "hyperparameters.batch_size=64", "hyperparameters.lr=null",
        "hyperparameters.optimizer=adamw", "hyperparameters.use-amp=true"])
    assert not config.bundled_script
    assert config.sent_hyperparameters == {"num-epochs": 40, "batch_size": 64,
                                           "optimizer": "adamw", "use-amp": True}
    assert config.dataset is None and config.model is None  # no built-in flow needed


def test_dict_overrides_set_values_as_given(tmp_path, user_code, user_data):
    config = load_config(own(tmp_path, user_code, user_data),
                         {"hyperparameters.tag": "1e-3", "hyperparameters.num-epochs": None})
    assert config.sent_hyperparameters == {"lr": 0.1, "tag": "1e-3"}  # a string stays one


def test_bundled_train_py_gets_only_the_keys_set(tmp_path):
    """Nothing of harness's own: train.py's argparse defaults (its fast recipe) apply."""
    config = load_config(write_config(tmp_path), ["hyperparameters.train_batch_size=null",
                                                  "hyperparameters.learning_rate=5e-5"])
    assert config.bundled_script
    assert "train_batch_size" not in config.sent_hyperparameters
    assert config.sent_hyperparameters["learning_rate"] == 5e-5  # typed: YAML read it as text


@pytest.mark.parametrize("overrides, expected", [
    (["hyperparameters.epochs=true"], "hyperparameters.epochs: Value error, expected a number"),
    (["hyperparameters.learning_rate=false"], "hyperparameters.learning_rate: Value error"),
    (["hyperparameters.batch_size=8"], "hyperparameters.batch_size: unknown key"),
    (["hyperparameters.precision=fp8"], "hyperparameters.precision"),
    (["inputs={train: .}"], "inputs.train: `prepare` stores the 'train' channel"),
    (["inputs={model: .}"], "inputs.model: `prepare` stores the 'model' channel"),
    (["model=null"], "model: required key is missing (with `dataset`"),
    (["metric_definitions=[{Name: acc, Regex: 'acc=[0-9.]+'}]"],
     "metric_definitions.0.Regex: Value error, needs a group around the value"),
    (["metric_definitions=[{Name: acc, Regex: 'acc=([0-9.]+'}]"],
     "metric_definitions.0.Regex: Value error, not a regular expression"),
    (["metric_definitions=[{Name: a, Regex: 'a=(.+)'}, {Name: a, Regex: 'b=(.+)'}]"],
     "metric names must be unique; repeated: a"),
    (["metric_definitions=[{name: a, regex: 'a=(.+)'}]"], "metric_definitions.0.Name"),
])
def test_built_in_flow_mistakes(tmp_path, overrides, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path), overrides)
    assert expected in str(error.value)


@pytest.mark.parametrize("inputs, expected", [
    ({"training": "gs://bucket/x"}, "inputs.training: Value error, give a local path, a file://"),
    ({"bad name": "."}, "inputs.bad name.[key]"),
    ({"training": "./no-such-folder"}, "inputs.training: not found"),
    ({"training": "file:///no/such/folder"}, "inputs.training: not found: /no/such/folder"),
])
def test_input_mistakes(tmp_path, user_code, inputs, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write_user_config(tmp_path, user_code, inputs))
    assert expected in str(error.value)


def test_hyperparameter_values_are_scalars(tmp_path, user_code, user_data):
    with pytest.raises(ConfigError) as error:
        load_config(own(tmp_path, user_code, user_data), ["hyperparameters.layers=[1, 2]"])
    assert "hyperparameters.layers: Value error, a hyperparameter is a string, a number or " \
           "true/false" in str(error.value)
