"""`harness deploy`: start an endpoint serving the trained model, or an existing model.tar.gz."""

import dataclasses
from pathlib import Path

from harness.errors import HarnessError, StepError
from harness.job import Job
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
        artifact = _model_data(job, model_data)
        endpoint = job.mode.deploy(artifact, install_requirements)
        endpoint = dataclasses.replace(endpoint, model_data=artifact)
        job.run.save(endpoint=endpoint)
        return endpoint


def _model_data(job: Job, flag: str | None) -> str:
    if flag is not None:
        if flag.startswith("s3://"):
            return flag
        path = Path(flag).expanduser().resolve()
        if not path.is_file():
            raise HarnessError(f"--model-data: file not found: {path}",
                               "give a model.tar.gz on this machine, or an s3:// URI")
        return str(path)
    configured = job.config.resolve_model_data()
    if configured:
        return configured
    training = job.run.get(TrainingResult)
    if training is None:
        raise StepError(f"no trained model in {job.run.path}",
                        "run `harness train` first, or deploy an existing model with "
                        "`harness deploy --model-data PATH|s3://URI` (or model_data: in the "
                        "config)")
    return training.model_artifact
