"""`harness delete`: stop the endpoint and free what it held."""

from harness.job import Job
from harness.run_dir import Endpoint


def delete(job: Job) -> None:
    with job.step("delete"):
        endpoint = job.run.require(Endpoint)
        job.mode.delete(endpoint)
        job.run.save(endpoint=None, last_endpoint=endpoint)
