"""`harness run --dry-run`: the cloud API requests the run would make, made to no one."""

from harness.job import Job
from harness.run_dir import Prepared

SHOWN = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint")


def dry_run(job: Job) -> list[dict]:
    """The run's SageMaker requests, in order, then the S3 uploads it would make."""
    calls = job.mode.dry_run(job.run.get(Prepared), job.hyperparameters())
    uploads = [{"operation": c["operation"],
                "params": {"Bucket": c["params"]["Bucket"], "Key": c["params"]["Key"]}}
               for c in calls if c["operation"] in ("PutObject", "CreateMultipartUpload")]
    return [c for c in calls if c["operation"] in SHOWN] + uploads
