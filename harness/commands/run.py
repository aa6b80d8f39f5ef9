"""`harness run`: the whole flow. The endpoint is deleted even when a later step fails."""

from harness.commands.delete import delete
from harness.commands.deploy import deploy
from harness.commands.predict import predict
from harness.commands.prepare import prepare
from harness.commands.train import train
from harness.errors import StepError
from harness.job import Job
from harness.run_dir import Endpoint


def run(job: Job, announce=print, interrupt_after: int = 0,
        install_requirements: bool = False) -> dict:
    endpoint = job.run.get(Endpoint)
    if endpoint:
        raise StepError(f"endpoint {endpoint.name} from an earlier run is still up at "
                        f"{endpoint.url}", "run `harness delete` first")
    if not install_requirements:  # unmet: fail before any step, not after one
        job.mode.check_requirements(install=False)
    job.run.save(timings={}, prediction=None)
    if job.config.model_data:  # an existing model: nothing to train
        announce(f"deploy (model_data: {job.config.model_data})")
    else:
        if job.config.dataset:  # without one, training reads the config's inputs as they are
            announce("prepare")
            prepare(job)
        announce("train")
        train(job, interrupt_after=interrupt_after, install_requirements=install_requirements)
        announce("deploy")
    deploy(job, install_requirements=install_requirements)
    try:
        announce("predict")
        predict(job, {"inputs": list(job.config.endpoint.sample_inputs)})
    finally:
        announce("delete")
        delete(job)
    return job.run.load()
