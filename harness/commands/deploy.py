"""`harness deploy`: start an endpoint serving the trained model."""

from harness.errors import StepError
from harness.job import Job
from harness.modes.base import RETRAIN
from harness.run_dir import Endpoint, TrainingResult


def deploy(job: Job) -> Endpoint:
    with job.step("deploy"):
        training = job.run.require(TrainingResult)
        model_artifact = training.model_artifact
        if not job.storage.exists(model_artifact):
            raise StepError(f"the model of training job {training.job_name} is missing: "
                            f"{model_artifact}", RETRAIN)
        endpoint = job.mode.deploy(model_artifact)
        job.run.save(endpoint=endpoint)
        return endpoint
