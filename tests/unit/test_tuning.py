"""Tuning's own rules, fast: SageMaker's early-stopping median rule, the search space in
Optuna's terms, the best job, the config's checks."""

import pytest

from harness import tuning
from harness.config import ParameterRange, TuningConfig, load_config
from harness.errors import ConfigError
from tests.support.runs import DEFAULT_CONFIG

LR = {"learning_rate": {"type": "continuous", "min_value": 1e-5, "max_value": 1e-3,
                        "scaling_type": "Logarithmic"}}


def test_early_stopping_compares_with_the_median_of_running_averages():
    previous = [[1.0, 0.6, 0.5], [0.8, 0.4, 0.3], [0.9, 0.9, 0.9]]
    # after value 2: running averages 0.8, 0.6, 0.9 -> median 0.8
    assert tuning.should_stop([0.9, 0.85], previous, "Minimize")
    assert not tuning.should_stop([0.9, 0.75], previous, "Minimize")
    assert tuning.should_stop([0.9, 0.75], previous, "Maximize")
    # the current value counts, not the job's own average or best
    assert not tuning.should_stop([5.0, 0.7], previous, "Minimize")


def test_early_stopping_only_against_jobs_that_got_as_far():
    assert not tuning.should_stop([9.0], [], "Minimize")
    assert not tuning.should_stop([9.0, 9.0, 9.0, 9.0], [[0.1, 0.1]], "Minimize")
    assert tuning.should_stop([9.0, 9.0], [[0.1, 0.1], [0.2]], "Minimize")


def test_search_space_in_optuna_terms():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    ranges = {"lr": ParameterRange(type="continuous", min_value=1e-5, max_value=1e-3,
                                   scaling_type="Logarithmic"),
              "batch": ParameterRange(type="integer", min_value=8, max_value=64),
              "optim": ParameterRange(type="categorical", values=["adamw_torch", "sgd"]),
              "beta": ParameterRange(type="continuous", min_value=0.9, max_value=0.999,
                                     scaling_type="ReverseLogarithmic")}
    space = tuning.distributions(ranges)
    assert space["lr"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert space["batch"] == IntDistribution(8, 64)
    assert space["optim"] == CategoricalDistribution(["adamw_torch", "sgd"])
    low, high = space["beta"].low, space["beta"].high
    assert space["beta"].log and low == pytest.approx(0.001) and high == pytest.approx(0.1)
    assert tuning.hyperparameters(ranges, {"beta": 0.01})["beta"] == pytest.approx(0.99)


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_a_seeded_search_repeats_itself(strategy):
    import optuna

    config = TuningConfig(objective_metric_name="m", hyperparameter_ranges=LR,
                          strategy=strategy, random_seed=7)

    def asked():
        study = optuna.create_study(sampler=tuning.sampler(config))
        space = tuning.distributions(config.hyperparameter_ranges)
        return [study.ask(space).params["learning_rate"] for _ in range(3)]

    first = asked()
    assert first == asked()
    assert all(1e-5 <= value <= 1e-3 for value in first)


def trial(number, status, objective):
    return tuning.Trial(number, f"t{number}", {"learning_rate": 1e-4 * number}, folder=None,
                        status=status, objective=objective, training_job=f"job-{number}",
                        series=[objective] if objective is not None else [])


def test_best_is_the_completed_trial_with_the_best_final_objective():
    trials = [trial(1, "Completed", 0.30), trial(2, "Completed", 0.20),
              trial(3, "Stopped", 0.05), trial(4, "Failed", None)]
    assert tuning.best(trials, "Minimize").number == 2
    assert tuning.best(trials, "Maximize").number == 1
    config = TuningConfig(objective_metric_name="eval_loss", objective_type="Minimize",
                          hyperparameter_ranges=LR)
    table = tuning.leaderboard([t.record() for t in trials], config, "job-2").splitlines()
    assert table[0].split()[:3] == ["trial", "status", "eval_loss"]
    assert table[1].startswith("*") and table[1].split()[1:4] == ["2", "Completed", "0.2000"]
    assert [row.split()[0] for row in table[2:]] == ["1", "3", "4"]


def test_floats_go_to_the_trial_as_floats():
    import yaml

    for value in (1e-05, 3.2e-05, 0.5, 7):
        assert yaml.safe_load(tuning._yaml(value)) == value
        assert type(yaml.safe_load(tuning._yaml(value))) is type(value)


@pytest.mark.parametrize("section, message", [
    ({"objective_metric_name": "val_loss", "hyperparameter_ranges": LR},
     "not one of metric_definitions (eval_loss"),
    ({"objective_metric_name": "eval_loss", "hyperparameter_ranges": {
        "lr": LR["learning_rate"]}}, "hyperparameter_ranges.lr: train.py has no such argument"),
    ({"objective_metric_name": "eval_loss", "hyperparameter_ranges": {
        "learning_rate": {"type": "continuous", "min_value": 0, "max_value": 1,
                          "scaling_type": "Logarithmic"}}}, "only for ranges above 0"),
    ({"objective_metric_name": "eval_loss", "hyperparameter_ranges": {
        "train_batch_size": {"type": "integer", "min_value": 8, "max_value": 64,
                             "scaling_type": "ReverseLogarithmic"}}}, "continuous ranges"),
    ({"objective_metric_name": "eval_loss", "hyperparameter_ranges": {
        "optim": {"type": "categorical", "min_value": 1, "values": ["sgd"]}}},
     "categorical range takes `values`"),
    ({"objective_metric_name": "eval_loss", "strategy": "Grid",
      "hyperparameter_ranges": LR}, "tuning.strategy"),
])
def test_tuning_config_errors_name_the_key(section, message):
    with pytest.raises(ConfigError) as error:
        load_config(DEFAULT_CONFIG, {"tuning": section})
    assert message in error.value.message
