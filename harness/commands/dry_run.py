"""`harness run --dry-run`: the cloud API requests the run would make, made to no one."""

from harness.commands.prepare import store_channels
from harness.job import Job

SHOWN = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint")
UPLOADS = ("PutObject", "CreateMultipartUpload")


def dry_run(job: Job) -> list[dict]:
    """The run's SageMaker requests and S3 uploads (prepare's channels, the SDK's code), in the
    order the run would make them."""
    calls = job.mode.dry_run(lambda storage: store_channels(job.config, storage),
                             job.hyperparameters())
    return [{"operation": c["operation"],
             "params": ({"Bucket": c["params"]["Bucket"], "Key": c["params"]["Key"]}
                        if c["operation"] in UPLOADS else c["params"])}
            for c in calls if c["operation"] in SHOWN + UPLOADS]
