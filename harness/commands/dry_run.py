"""`harness run --dry-run`: the cloud API requests the run would make, made to no one."""

from harness import channels
from harness.commands.prepare import store_channels
from harness.job import Job

SHOWN = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint")
UPLOADS = ("PutObject", "CreateMultipartUpload")


def dry_run(job: Job) -> list[dict]:
    """The run's SageMaker requests and S3 uploads (prepare's channels, the config's local
    inputs, the SDK's code), in the order the run would make them."""

    def store(storage) -> dict[str, str]:
        prepared = store_channels(job.config, storage).channels if job.config.dataset else {}
        return channels.staged(job.config, storage, job.mode.reads_in_place, prepared)

    calls = job.mode.dry_run(store, job.hyperparameters())
    return [{"operation": c["operation"],
             "params": ({"Bucket": c["params"]["Bucket"], "Key": c["params"]["Key"]}
                        if c["operation"] in UPLOADS else c["params"])}
            for c in calls if c["operation"] in SHOWN + UPLOADS]
