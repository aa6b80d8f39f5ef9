"""`harness train`: run the entry point as a training job; fetch its output, metrics and curves.

Whatever the mode, the job's `output.tar.gz` is unpacked into `<run_dir>/output/`, so a failed
job's `failure` file is always at `<run_dir>/output/failure`."""

import json
import re
import shutil
import tarfile
import threading
from pathlib import Path

from harness import metrics, model_artifact, names, plot, tracking
from harness.errors import StepError, out_of_space
from harness.job import Job
from harness.modes.base import TrainingFailed

FAILURE_LINES = 40


def train(job: Job, interrupt_after: int = 0, install_requirements: bool = False) -> dict:
    with job.step("train"):
        job.mode.check_requirements(install=install_requirements)
        found = job.channels()
        # Import the plotting library while the job runs, not after it.
        threading.Thread(target=plot.load_pyplot, daemon=True).start()
        name = names.job_name(job.config.name)
        hyperparameters = job.hyperparameters()
        tracked = tracking.training_run(job.config, name, hyperparameters,
                                        tracking_tags(job, name), fallback(job))
        try:
            result = job.mode.train(name, found, hyperparameters, interrupt_after,
                                    environment=tracked.environment(job.mode.tracking_uri_in_job))
            data = fetch_output(job, result.output_artifact) / "data"
            history, logged = _json(data / "log_history.json", []), logged_series(job)
            saved = job.run.save(training=result, **outcome(job, data, history, logged))
        except TrainingFailed as failed:
            tracked.end("FAILED")
            raise failure(job, failed) from None
        except BaseException as error:
            tracked.end("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            raise
        tracked.finish(job.config, history, logged, saved["metrics"], saved["plot"],
                       result.model_artifact)
        return saved


def tracking_tags(job: Job, job_name: str) -> dict[str, str]:
    return tracking.job_tags(job.config, job.mode.name, job.mode.settings.instance_type,
                             job.mode.training_image(), job_name)


def fallback(job: Job) -> str:
    """Where a run's metrics stay when the tracker fails: its run dir."""
    return f"{job.run.state_file} and {job.run.path / 'training_curves.png'}"


def logged_series(job: Job) -> dict[str, list[float]]:
    """Each metric of `metric_definitions`, in the order the job's log printed it."""
    log = job.run.train_log
    return metrics.series(job.config.metric_definitions,
                          log.read_text(errors="replace") if log.exists() else "")


def outcome(job: Job, data: Path, history: list[dict], logged: dict[str, list[float]]) -> dict:
    """What the job reported: the last value of each metric of `metric_definitions` in its log,
    then the script's own `metrics.json` (its values win); the curves, where there are any."""
    target = job.run.path / "training_curves.png"
    target.unlink(missing_ok=True)
    curves = plot.training_curves(history, logged, target)
    return {"metrics": {**metrics.last_values(logged), **_json(data / "metrics.json", {})},
            "metric_names": [d.Name for d in job.config.metric_definitions],
            "plot": str(curves) if curves else None}


def _json(file: Path, absent):
    """A JSON file the script may write; `absent` when it wrote none."""
    if not file.exists():
        return absent
    try:
        return json.loads(file.read_text())
    except ValueError as e:
        raise StepError(f"the training job's {file.name} is not valid JSON: {e}",
                        f"see {file}") from None

# The training toolkit's failure file: `ExecuteUserScriptError: ... ExitCode 3 ...`.
TOOLKIT_EXIT_CODE = re.compile(r"\bExitCode (\d+)")


def fetch_output(job: Job, artifact: str):
    """A job's output.tar.gz, unpacked into `<run_dir>/output/`."""
    output = job.run.output_dir
    shutil.rmtree(output, ignore_errors=True)
    with job.storage.open(artifact) as source, \
            tarfile.open(fileobj=source) as tar:
        model_artifact.extract_all(tar, output)
    return output


def failure(job: Job, failed: TrainingFailed) -> StepError:
    """The error for a failed job: a full disk said first and in a line; else the start of the
    toolkit's failure file (SageMaker's FailureReason: the script's error first), else the end
    of the job's log."""
    entry_point = job.config.entry_point
    reason, file = failed.log_tail, None
    if not out_of_space(reason):  # on a full disk, unpacking the output would fail too
        artifact = job.storage.output_artifact(failed.job_name)
        if not job.storage.exists(artifact):
            return StepError(f"training job {failed.job_name} failed before {entry_point} ran:"
                             f"\n{failed.log_tail}", f"full log: {failed.log}")
        file = fetch_output(job, artifact) / "failure"
        reason = file.read_text(errors="replace") if file.exists() else failed.log_tail
    if out_of_space(reason):
        line = next(line for line in reversed(reason.splitlines()) if out_of_space(line))
        return StepError(f"{entry_point} ran out of disk space in training job "
                         f"{failed.job_name}:\n  {line.strip()}",
                         f"{job.mode.full_disk_hint()}; full log: {failed.log}")
    exit_code = failed.exit_code
    if exit_code is None and (found := TOOLKIT_EXIT_CODE.search(reason)):
        exit_code = int(found.group(1))
    code = "" if exit_code is None else f" (exit code {exit_code})"
    return StepError(f"{entry_point} failed in training job {failed.job_name}{code}:\n"
                     + "\n".join(reason.splitlines()[:FAILURE_LINES]),
                     f"full log: {failed.log}; failure file: {file}")
