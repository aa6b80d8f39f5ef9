"""`harness run --dry-run`: the cloud API requests the run would make, made to no one."""

from harness import channels, tracking
from harness.commands.prepare import store_channels
from harness.errors import note
from harness.job import Job

SHOWN = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint",
         "CreateHyperParameterTuningJob", "CreateTransformJob")
UPLOADS = ("PutObject", "CreateMultipartUpload")


def stored(job: Job):
    """What stores the job's channels into a (recording) storage, as prepare and train do."""

    def store(storage) -> dict[str, str]:
        prepared = store_channels(job.config, storage).channels if job.config.dataset else {}
        return channels.staged(job.config, storage, job.mode.reads_in_place, prepared)

    return store


def dry_run(job: Job) -> list[dict]:
    """The run's SageMaker requests and S3 uploads (prepare's channels, the config's local
    inputs, the SDK's code), in the order the run would make them. The training job's
    environment carries the tracking configuration (no run is made: MLFLOW_RUN_ID is not
    there)."""
    environment = tracking.TrainingRun(tracking.target(job.config)).environment(
        job.mode.tracking_uri_in_job)
    if environment:
        note("tracking: the training job gets " + ", ".join(
            f"{key}={value}" for key, value in environment.items()))
    return shown(job.mode.dry_run(stored(job), job.hyperparameters(), environment))


def shown(calls: list[dict]) -> list[dict]:
    """The requests a dry run shows: the uploads (bucket and key) and the creates."""
    return [{"operation": c["operation"],
             "params": ({"Bucket": c["params"]["Bucket"], "Key": c["params"]["Key"]}
                        if c["operation"] in UPLOADS else c["params"])}
            for c in calls if c["operation"] in SHOWN + UPLOADS]
