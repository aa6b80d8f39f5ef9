"""`harness run`: the whole flow. The endpoint is deleted even when a later step fails."""

from harness.commands.delete import delete
from harness.commands.deploy import deploy
from harness.commands.predict import predict
from harness.commands.prepare import prepare
from harness.commands.train import train
from harness.job import Job


def run(job: Job, announce=print) -> dict:
    job.run.save(timings={}, endpoint=None, prediction=None)
    announce("prepare")
    prepare(job)
    announce("train")
    train(job)
    announce("deploy")
    deploy(job)
    try:
        announce("predict")
        predict(job, {"inputs": list(job.config.endpoint.sample_inputs)})
    finally:
        announce("delete")
        delete(job)
    return job.run.load()
