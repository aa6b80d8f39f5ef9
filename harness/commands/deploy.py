"""`harness deploy`: start an endpoint serving the trained model, or an existing model.tar.gz."""

import dataclasses
from pathlib import Path

from harness.errors import HarnessError, StepError
from harness.job import Job
from harness.modes.base import RETRAIN
from harness.run_dir import Endpoint, TrainingResult


def deploy(job: Job, model_data: str | None = None,
           install_requirements: bool = False) -> Endpoint:
    """`model_data` (a path or an s3:// URI), else the config's `model_data`, else the
    trained model. One endpoint per run dir: a second deploy is refused, so that none is
    ever left running without a record."""
    with job.step("deploy"):
        running = job.run.get(Endpoint)
        if running:
            raise StepError(f"endpoint {running.name} is already up at {running.url}",
                            "run `harness delete` first; a second endpoint would leave this "
                            "one running without a record")
        artifact, remedy = model_to_serve(job, model_data)
        job.mode.check_model_data(artifact, remedy)
        endpoint = job.mode.deploy(artifact, install_requirements)
        endpoint = dataclasses.replace(endpoint, model_data=artifact)
        job.run.save(endpoint=endpoint)
        return endpoint


def model_to_serve(job: Job, flag: str | None) -> tuple[str, str]:
    """The model.tar.gz to deploy, and the fix should it be missing or damaged."""
    given = "give a whole model.tar.gz: the one a training job wrote, or a model folder's " \
            "contents packed with `tar -czf model.tar.gz -C model .`"
    if flag is not None:
        if flag.startswith("s3://"):
            return flag, given
        path = Path(flag).expanduser().resolve()
        if not path.is_file():
            raise HarnessError(f"--model-data: file not found: {path}",
                               "give a model.tar.gz on this machine, or an s3:// URI")
        return str(path), given
    configured = job.config.resolve_model_data()
    if configured:
        return configured, given
    training = job.run.get(TrainingResult)
    if training is None:
        raise StepError(f"no trained model in {job.run.path}",
                        "run `harness train` first, or deploy an existing model with "
                        "`harness deploy --model-data PATH|s3://URI` (or model_data: in the "
                        "config)")
    if not job.storage.exists(training.model_artifact):
        raise StepError(f"the model of training job {training.job_name} is missing: "
                        f"{training.model_artifact}", RETRAIN)
    return training.model_artifact, RETRAIN
