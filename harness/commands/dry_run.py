"""`harness run --dry-run`: the cloud API requests the run would make, made to no one."""

from harness import channels
from harness.job import Job
from harness.run_dir import Prepared

SHOWN = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint")


def dry_run(job: Job) -> list[dict]:
    """The run's SageMaker requests, in order, then the S3 uploads it would make: the SDK's
    (the code) and harness's (local inputs, to their channels)."""
    prepared = {}
    if job.config.dataset:  # what `prepare` stored, or would store
        record = job.run.get(Prepared)
        prepared = record.channels if record else channels.planned(job.config, job.storage)
    inputs = channels.inputs(job.config, job.storage, job.mode.reads_in_place)
    calls = job.mode.dry_run({**prepared, **{item.channel: item.uri for item in inputs}},
                             job.hyperparameters())
    uploads = [{"operation": c["operation"],
                "params": {"Bucket": c["params"]["Bucket"], "Key": c["params"]["Key"]}}
               for c in calls if c["operation"] in ("PutObject", "CreateMultipartUpload")]
    uploads += [{"operation": "Upload", "params": {"From": str(item.upload), "To": item.uri}}
                for item in inputs if item.upload]
    return [c for c in calls if c["operation"] in SHOWN] + uploads
