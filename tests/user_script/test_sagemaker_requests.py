"""A script of the user's own, promoted to `sagemaker`: what the dry run shows, and the
CreateTrainingJob request checked by botocore's Stubber against the service model."""

import boto3
from botocore.stub import ANY, Stubber

from harness.config import load_config
from harness.job import Job
from harness.modes.sagemaker.mode import SageMakerMode
from harness.run_dir import RunDir
from harness.sdk import recording_session
from tests.support.cli import harness
from tests.support.sagemaker import ROLE, TRAINING_DLC, V2, V2_TRAINING_JOB, printed_request
from tests.user_script.conftest import EPOCHS, METRICS, SCRIPT, write_user_config

NO_AWS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None,
          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
# modes.sagemaker.training_versions' PyTorch and Python: the newest in the SDK's tables.
PYTORCH_DLC = ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:"
               f"{'2.8.0' if V2 else '2.9.0'}-gpu-py312")
VALIDATION = "s3://user-data/linear/validation/"


def promoted_config(tmp_path, user_code, user_data, **extra):
    return write_user_config(tmp_path, user_code, {"training": str(user_data["training"]),
                                                   "validation": VALIDATION},
                             modes={"sagemaker": {"role": ROLE, "region": "us-east-1"}}, **extra)


def test_dry_run_shows_channels_hyperparameters_metrics_and_the_pytorch_dlc(
        tmp_path, user_code, user_data):
    config = promoted_config(tmp_path, user_code, user_data)
    prefix = load_config(config).s3_root
    result = harness("run", "-c", str(config), "--mode", "sagemaker", "--dry-run", env=NO_AWS)
    job = printed_request(result.stdout, "CreateTrainingJob")
    assert job["AlgorithmSpecification"]["TrainingImage"] == PYTORCH_DLC
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in job["InputDataConfig"]}
    assert channels == {"training": f"{prefix}/channels/training/", "validation": VALIDATION}
    mine = {k: v for k, v in job["HyperParameters"].items() if not k.startswith("sagemaker_")}
    assert mine == {"num-epochs": str(EPOCHS), "lr": "0.1"}  # nothing of harness's own
    assert job["HyperParameters"]["sagemaker_program"] == f'"{SCRIPT}"'
    # The local folder goes to its channel, one upload per file.
    uploads = {line.split()[1] for line in result.stdout.splitlines()
               if line.startswith("PutObject ")}
    files = {f"{prefix}/channels/training/{path.relative_to(user_data['training']).as_posix()}"
             for path in user_data["training"].rglob("*") if path.is_file()}
    assert files and files <= uploads


def test_create_training_job_request_is_valid(tmp_path, user_code, user_data):
    config = load_config(promoted_config(tmp_path, user_code, user_data))
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stub = Stubber(client)
    session, _ = recording_session("us-east-1", config.s3.bucket, sagemaker_client=client)
    mode = SageMakerMode(config, RunDir(config.run_path, "sagemaker"), session=session)
    channels = {"training": f"{config.s3_root}/channels/training/", "validation": VALIDATION}
    arn = "arn:aws:sagemaker:us-east-1:111122223333:x"
    stub.add_response("create_training_job", {"TrainingJobArn": arn}, {
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": PYTORCH_DLC,
                                   "MetricDefinitions": METRICS,
                                   "EnableSageMakerMetricsTimeSeries": True},
        "HyperParameters": {"num-epochs": str(EPOCHS), "lr": "0.1",
                            "sagemaker_program": f'"{SCRIPT}"',
                            "sagemaker_submit_directory": ANY,
                            "sagemaker_container_log_level": "20",
                            "sagemaker_job_name": ANY, "sagemaker_region": '"us-east-1"',
                            "sagemaker_torch_distributed_enabled": "true",
                            "sagemaker_instance_type": '"ml.p3.2xlarge"'},
        "InputDataConfig": [{"ChannelName": name, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for name, uri in channels.items()],
        "OutputDataConfig": {"S3OutputPath": config.s3_root}, "TrainingJobName": ANY,
        "StoppingCondition": {"MaxRuntimeInSeconds": 14400},
        "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": 1,
                           "InstanceType": "ml.p3.2xlarge"},
        "RoleArn": ROLE, **V2_TRAINING_JOB})
    for operation, key in (("create_model", "ModelArn"),
                           ("create_endpoint_config", "EndpointConfigArn"),
                           ("create_endpoint", "EndpointArn")):
        stub.add_response(operation, {key: arn}, None)  # serving a script's model: issue 14
    with stub:
        mode.plan(channels, Job(config, mode).hyperparameters())
    stub.assert_no_pending_responses()


def test_huggingface_framework_keeps_the_hugging_face_dlc(tmp_path, user_code, user_data):
    config = load_config(promoted_config(tmp_path, user_code, user_data, framework="huggingface"))
    mode, _ = SageMakerMode(config, RunDir(config.run_path, "sagemaker")).rehearsal()
    assert mode.training_image() == TRAINING_DLC.format(region="us-east-1")
