"""What harness's requests hold under both majors (the guide's config)."""

from botocore.stub import ANY

SCRIPT_ENV = {"SAGEMAKER_PROGRAM": "", "SAGEMAKER_SUBMIT_DIRECTORY": "",
              "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}


def hyperparameters(region: str, instance_type: str, code) -> dict:
    """The guide config's, JSON-encoded, and the training toolkit's `sagemaker_*` ones."""
    return {"epochs": "1", "train_batch_size": "32", "eval_batch_size": "64",
            "warmup_steps": "500", "learning_rate": "5e-05",
            "model_name": '"distilbert-base-uncased"', "sagemaker_submit_directory": code,
            "sagemaker_program": '"train.py"', "sagemaker_container_log_level": "20",
            "sagemaker_job_name": ANY, "sagemaker_region": f'"{region}"',
            "sagemaker_torch_distributed_enabled": "true",
            "sagemaker_instance_type": f'"{instance_type}"'}


def s3_channels(channels: dict[str, str]) -> list[dict]:
    return [{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                             "S3DataDistributionType": "FullyReplicated"}},
             "ChannelName": name} for name, uri in channels.items()]
