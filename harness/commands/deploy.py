"""`harness deploy`: start an endpoint serving the trained model."""

from harness.job import Job


def deploy(job: Job) -> dict:
    with job.step("deploy"):
        model_artifact = job.run.require("training", "train")["model_artifact"]
        return job.run.save(endpoint=job.mode.deploy(model_artifact))
