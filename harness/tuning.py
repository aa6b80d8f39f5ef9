"""Hyperparameter tuning in the emulated modes, as SageMaker's tuning jobs behave: Optuna picks
each trial's hyperparameters (`Random`: its RandomSampler, `Bayesian`: TPE), each trial runs as
a training job of the mode (`harness train` in a folder of its own, so Ctrl-C and clean-up are
the training command's own), the objective is read from the job's log through the metric
definitions (its last value counts), and `early_stopping_type: Auto` applies SageMaker's
median rule after each value a job emits."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness import metrics, plot
from harness.config import JobConfig, ParameterRange, TuningConfig
from harness.errors import HarnessError, StepError
from harness.run_dir import Prepared, RunDir, TrainingResult, TuningResult

POLL_S = 1.0
STOP_GRACE_S = 90  # a stopped trial's own clean-up (containers included)
COMPLETED, FAILED, STOPPED, IN_PROGRESS = "Completed", "Failed", "Stopped", "InProgress"


def should_stop(current: list[float], previous: list[list[float]], objective_type: str) -> bool:
    """SageMaker's `Auto` early stopping, after a job's k-th objective value: stop it if that
    value is worse than the median, over previous jobs that reached k values, of each one's
    running average of its first k values."""
    k = len(current)
    averages = [statistics.fmean(series[:k]) for series in previous if len(series) >= k]
    if not k or not averages:
        return False
    median = statistics.median(averages)
    return current[-1] > median if objective_type == "Minimize" else current[-1] < median


def distributions(ranges: dict[str, ParameterRange]) -> dict[str, Any]:
    """Optuna's distribution per range. ReverseLogarithmic x in [a, b) is sampled as
    1 - y with y log-uniform in (1 - b, 1 - a]."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found: dict[str, Any] = {}
    for name, r in ranges.items():
        log = r.scaling_type == "Logarithmic"
        if r.type == "categorical":
            found[name] = CategoricalDistribution(r.values or [])
            continue
        assert r.min_value is not None and r.max_value is not None  # ParameterRange checks it
        if r.type == "integer":
            found[name] = IntDistribution(int(r.min_value), int(r.max_value), log=log)
        elif r.scaling_type == "ReverseLogarithmic":
            found[name] = FloatDistribution(1 - r.max_value, 1 - r.min_value, log=True)
        else:
            found[name] = FloatDistribution(r.min_value, r.max_value, log=log)
    return found


def hyperparameters(ranges: dict[str, ParameterRange], params: dict[str, Any]) -> dict[str, Any]:
    """A trial's values as the training job gets them (ReverseLogarithmic turned back)."""
    return {name: 1 - value if ranges[name].scaling_type == "ReverseLogarithmic" else value
            for name, value in params.items()}


def sampler(tuning: TuningConfig):
    import optuna

    if tuning.strategy == "Random":
        return optuna.samplers.RandomSampler(seed=tuning.random_seed)
    return optuna.samplers.TPESampler(seed=tuning.random_seed)


def _yaml(value: Any) -> str:
    """A value as `--set` reads it back (YAML): a float keeps its dot, so stays a float."""
    text = json.dumps(value)
    if isinstance(value, float) and "e" in text and "." not in text:
        text = text.replace("e", ".0e")
    return text


@dataclass
class Trial:
    number: int
    name: str
    hyperparameters: dict[str, Any]
    folder: Path
    started: float = field(default_factory=time.monotonic)
    status: str = IN_PROGRESS
    series: list[float] = field(default_factory=list)
    objective: float | None = None
    training_job: str | None = None
    failure: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # what its `harness train` recorded
    seconds: float = 0.0
    stop_sent: bool = False
    process: subprocess.Popen | None = None
    optuna_trial: Any = None

    @property
    def command(self) -> subprocess.Popen:
        """Its `harness train` process, once started."""
        assert self.process is not None, f"trial {self.number} has not started"
        return self.process

    def record(self) -> dict[str, Any]:
        """What the run's state keeps of it."""
        kept = ("number", "name", "hyperparameters", "status", "series", "objective",
                "training_job", "failure", "metrics", "seconds")
        return {"folder": str(self.folder), **{key: getattr(self, key) for key in kept}}


class Search:
    """The trials of one tuning job of `config`, each `harness train --mode <mode>`; `run`:
    the tuning job's own run dir (its prepared channels)."""

    def __init__(self, config: JobConfig, mode: str, run: RunDir,
                 announce: Callable[[str], None]):
        import optuna

        self.config = config
        self.mode = mode
        self.run_dir = run
        assert config.tuning is not None, "the command checked for a tuning: section"
        self.tuning: TuningConfig = config.tuning
        self.announce = announce
        self.folder = run.path / "tuning"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        direction: Literal["minimize", "maximize"] = \
            "minimize" if self.tuning.objective_type == "Minimize" else "maximize"
        self.study = optuna.create_study(direction=direction, sampler=sampler(self.tuning))
        self.space = distributions(self.tuning.hyperparameter_ranges)
        self.trials: list[Trial] = []
        self.parallel = min(self.tuning.max_parallel_jobs, os.cpu_count() or 1)

    def trials_run(self) -> list[Trial]:
        if not self.config.source.is_file():
            raise HarnessError("tune runs each trial from the config file", "pass -c FILE")
        if self.parallel < self.tuning.max_parallel_jobs:
            self.announce(f"max_parallel_jobs {self.tuning.max_parallel_jobs}: this machine "
                          f"runs {self.parallel} at a time (one per CPU core)")
        try:
            while len(self.trials) < self.tuning.max_jobs or self.running:
                while len(self.running) < self.parallel and \
                        len(self.trials) < self.tuning.max_jobs:
                    self.start()
                time.sleep(POLL_S)
                for trial in self.running:
                    self.poll(trial)
        finally:  # Ctrl-C or an error: every trial still running is stopped, and waited for
            for trial in self.running:
                self.stop(trial)
            for trial in self.running:
                self.wait(trial)
        return self.trials

    @property
    def running(self) -> list[Trial]:
        return [t for t in self.trials if t.status == IN_PROGRESS]

    def start(self) -> None:
        asked = self.study.ask(self.space)
        number = len(self.trials) + 1
        name = f"{self.config.name[:40]}-trial-{number:03d}"
        trial = Trial(number, name, hyperparameters(self.tuning.hyperparameter_ranges,
                                                    asked.params),
                      self.folder / name, optuna_trial=asked)
        trial.folder.mkdir(parents=True, exist_ok=True)
        run = RunDir(trial.folder, self.mode)
        (trial.folder / "train.log").unlink(missing_ok=True)
        prepared = self.run_dir.get(Prepared)
        run.save(prepared=prepared, training=None)
        with open(trial.folder / "harness.out", "wb") as out:
            trial.process = subprocess.Popen(
                self.command(trial), stdout=out, stderr=subprocess.STDOUT, env=_this_harness(),
                stdin=subprocess.DEVNULL, start_new_session=True)
            self.trials.append(trial)  # before a Ctrl-C can come between
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in trial.hyperparameters.items())
        self.announce(f"trial {number}/{self.tuning.max_jobs} started: {shown}")

    def command(self, trial: Trial) -> list[str]:
        """`harness train` of this config, in the trial's folder, on the run's storage."""
        sets = [*(f"{key}={_yaml(value)}" for key, value in self.config.overrides),
                f"name={trial.name}", f"run_dir={trial.folder}",
                f"s3.prefix={self.config.s3_prefix}", "tuning=null", "transform=null",
                *(f"hyperparameters.{key}={_yaml(value)}"
                  for key, value in trial.hyperparameters.items())]
        return [sys.executable, "-m", "harness", "train", "-c", str(self.config.source),
                "--mode", self.mode, *(arg for s in sets for arg in ("--set", s))]

    def poll(self, trial: Trial) -> None:
        log = trial.folder / "train.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        series = metrics.series(self.config.metric_definitions, text).get(
            self.tuning.objective_metric_name, [])
        for k in range(len(trial.series) + 1, len(series) + 1):
            trial.optuna_trial.report(series[k - 1], k)
            self.announce(f"trial {trial.number}: {self.tuning.objective_metric_name} "
                          f"{series[k - 1]:.4g} (value {k})")
            if self.tuning.early_stopping_type == "Auto" and not trial.stop_sent and \
                    should_stop(series[:k], self.previous(trial), self.tuning.objective_type):
                self.announce(f"trial {trial.number}: worse than the median of earlier "
                              "trials: stopping it early")
                self.stop(trial)
        trial.series = series
        if trial.command.poll() is not None:
            self.finish(trial)

    def previous(self, trial: Trial) -> list[list[float]]:
        return [t.series for t in self.trials if t is not trial and t.status != IN_PROGRESS
                and t.series]

    def stop(self, trial: Trial) -> None:
        """What SageMaker's StopTrainingJob is to a job: here, the training command's Ctrl-C."""
        trial.stop_sent = True
        if trial.command.poll() is None:
            os.killpg(trial.command.pid, signal.SIGINT)

    def wait(self, trial: Trial) -> None:
        try:
            trial.command.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(trial.command.pid, signal.SIGKILL)
            trial.command.wait()
        trial.status = STOPPED
        trial.seconds = time.monotonic() - trial.started

    def finish(self, trial: Trial) -> None:
        from optuna.trial import TrialState

        trial.seconds = round(time.monotonic() - trial.started, 1)
        code = trial.command.returncode
        run = RunDir(trial.folder, self.mode)
        result = run.get(TrainingResult)
        trial.training_job = result.job_name if result else None
        trial.metrics = run.load().get("metrics") or {}
        if trial.series:
            trial.objective = trial.series[-1]
        if code == 0 and trial.objective is not None:
            trial.status = COMPLETED
            self.study.tell(trial.optuna_trial, trial.objective)
        elif trial.stop_sent:
            trial.status = STOPPED
            self.study.tell(trial.optuna_trial, state=TrialState.PRUNED)
        else:
            trial.status = FAILED
            trial.failure = _failure(trial.folder / "harness.out") if code else \
                f"no {self.tuning.objective_metric_name} in the training log (metric_definitions)"
            self.study.tell(trial.optuna_trial, state=TrialState.FAIL)
        value = "" if trial.objective is None else \
            f": {self.tuning.objective_metric_name} {trial.objective:.4g}"
        self.announce(f"trial {trial.number}/{self.tuning.max_jobs} {trial.status}{value} "
                      f"({trial.seconds:.0f} s){' - ' + trial.failure if trial.failure else ''}")


def _this_harness() -> dict[str, str]:
    """The environment, with this harness first on the path: trials run the same code,
    whatever the working directory holds."""
    package_root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{package_root}{os.pathsep}{path}" if path
            else package_root}


def _failure(output: Path) -> str:
    """The training command's error, from its output: its `error:` line and what follows."""
    lines = output.read_text(errors="replace").splitlines() if output.exists() else []
    start = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("error:")),
                 max(0, len(lines) - 3))
    return " ".join(line.strip() for line in lines[start:start + 3])


def best(trials: list[Trial], objective_type: str) -> Trial | None:
    """The completed trial with the best final objective (SageMaker's BestTrainingJob)."""
    done = [(t.objective, t) for t in trials
            if t.status == COMPLETED and t.training_job and t.objective is not None]
    if not done:
        return None
    pick = min if objective_type == "Minimize" else max
    return pick(done, key=lambda pair: pair[0])[1]


def leaderboard(trials: list[dict[str, Any]], tuning: TuningConfig,
                best_job: str | None) -> str:
    """The trials (as the run keeps them), best first (completed by objective, then the
    others), the best training job marked."""
    sign = 1 if tuning.objective_type == "Minimize" else -1
    ranked = sorted(trials, key=lambda t: (t["status"] != COMPLETED, t["objective"] is None,
                                           sign * (t["objective"] or 0), t["number"]))
    names = list(tuning.hyperparameter_ranges)
    header = ["", "trial", "status", tuning.objective_metric_name, *names, "time", "training job"]
    rows = [["*" if best_job and t["training_job"] == best_job else "", str(t["number"]),
             t["status"], "-" if t["objective"] is None else f"{t['objective']:.4f}",
             *(_shown(t["hyperparameters"].get(n)) for n in names),
             "-" if t.get("seconds") is None else f"{t['seconds']:.0f}s",
             t["training_job"] or "-"] for t in ranked]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run(config: JobConfig, mode: str, run_dir: RunDir, job_name: str,
        announce: Callable[[str], None]) -> tuple[TuningResult, TrainingResult]:
    """Tuning job `job_name` of `config` in `mode`: its trials, the leaderboard (table and
    PNG) and the best training job."""
    tuning = config.tuning
    assert tuning is not None, "the command checked for a tuning: section"
    trials = Search(config, mode, run_dir, announce).trials_run()
    winner = best(trials, tuning.objective_type)
    records = [t.record() for t in trials]
    table = leaderboard(records, tuning, winner.training_job if winner else None)
    target = run_dir.path / "tuning_leaderboard.png"
    plot.tuning_objectives([(t.number, t.status, t.series) for t in trials],
                           tuning.objective_metric_name, winner.number if winner else None, target)
    result = TuningResult(job_name, tuning.objective_metric_name, tuning.objective_type,
                          records,
                          winner.training_job if winner else None, table, str(target))
    if winner is None:
        run_dir.save(tuning=result)
        raise StepError(f"tuning job {job_name}: no trial completed with a "
                        f"{tuning.objective_metric_name}:\n{table}",
                        "see each trial's harness.out and train.log under "
                        f"{run_dir.path / 'tuning'}")
    return result, RunDir(winner.folder, mode).require(TrainingResult)
