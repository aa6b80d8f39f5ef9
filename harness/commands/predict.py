"""`harness predict`: send one request to the running endpoint."""

from typing import Any

from harness.job import Job
from harness.run_dir import Endpoint


def predict(job: Job, payload: Any) -> Any:
    with job.step("predict"):
        endpoint = job.run.require(Endpoint)
        prediction = job.mode.predict(endpoint, payload)
        job.run.save(prediction={"request": payload, "response": prediction})
        return prediction
