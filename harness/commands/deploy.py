"""`harness deploy`: start an endpoint serving the trained model."""

from harness.job import Job
from harness.run_dir import Endpoint, TrainingResult


def deploy(job: Job) -> Endpoint:
    with job.step("deploy"):
        model_artifact = job.run.require(TrainingResult).model_artifact
        endpoint = job.mode.deploy(model_artifact)
        job.run.save(endpoint=endpoint)
        return endpoint
