"""`harness tune`: a hyperparameter tuning job over the config's `tuning:` ranges; the best
training job becomes the run's trained model, so `harness deploy` serves it."""

from collections.abc import Callable

from harness import names, tracking
from harness.commands.dry_run import shown, stored
from harness.commands.prepare import prepare
from harness.commands.train import fallback, tracking_tags
from harness.job import Job
from harness.run_dir import Prepared, TuningResult

NO_SECTION = ("add a tuning: section, e.g. tuning: {objective_metric_name: eval_loss, "
              "objective_type: Minimize, max_jobs: 4, max_parallel_jobs: 2, "
              "hyperparameter_ranges: {learning_rate: {type: continuous, min_value: 1.0e-5, "
              "max_value: 1.0e-4, scaling_type: Logarithmic}}}")


def requests(job: Job) -> list[dict]:
    """The SageMaker requests of the tuning job (the uploads, CreateHyperParameterTuningJob),
    made to no one."""
    job.require_section("tuning", NO_SECTION)
    return shown(job.mode.tune_requests(names.tuning_job_name(job.config.name), stored(job),
                                        job.hyperparameters()))


def tune(job: Job, announce: Callable[[str], None] = print,
         install_requirements: bool = False) -> TuningResult:
    """`install_requirements`: as for `harness train`, once here: each trial then finds them."""
    job.require_section("tuning", NO_SECTION)
    job.mode.check_requirements(install=install_requirements)
    if job.config.dataset and job.run.get(Prepared) is None:
        announce("prepare")
        prepare(job)
    with job.step("tune"):
        name = names.tuning_job_name(job.config.name)
        tags = tracking_tags(job, name)
        tracked = tracking.tuning_run(job.config, name, job.hyperparameters(), tags,
                                      fallback(job))
        try:
            with tracked.trials():
                result, training = job.mode.tune(name, job.channels, job.hyperparameters(),
                                                 announce)
        except BaseException:
            tracked.failed()
            raise
        tracked.finish(result, tags)
        best = next(t for t in result.trials if t["training_job"] == result.best_training_job)
        job.run.save(tuning=result, training=training,
                     metrics=best.get("metrics") or {result.objective_metric_name:
                                                     best["objective"]},
                     metric_names=[d.Name for d in job.config.metric_definitions], plot=None)
        return result


def summary(result: TuningResult) -> str:
    """What `harness tune` prints: the leaderboard and plot where the mode made them."""
    best = f"best training job: {result.best_training_job}"
    lines = [result.table, f"{best} (* above); `harness deploy` serves it"] if result.table \
        else [f"{best}; `harness deploy` serves it"]
    return "\n".join(lines + ([f"leaderboard plot: {result.plot}"] if result.plot else []))
