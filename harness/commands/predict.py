"""`harness predict`: send one request to the running endpoint."""

from collections.abc import Iterator
from typing import Any

from harness.host import invocations
from harness.job import Job
from harness.run_dir import Endpoint


def predict(job: Job, payload: Any) -> Any:
    with job.step("predict"):
        endpoint = job.run.require(Endpoint)
        prediction = job.mode.predict(endpoint, payload)
        job.run.save(prediction={"request": payload, "response": prediction})
        return prediction


def stream(job: Job, payload: Any) -> Iterator[str]:
    """The answer's text as the endpoint streams it, token by token (`"stream": true` is set
    in the request)."""
    with job.step("predict"):
        endpoint = job.run.require(Endpoint)
        if isinstance(payload, dict):
            payload = {**payload, "stream": True}
        yield from invocations.streamed_text(job.mode.stream(endpoint, payload))
