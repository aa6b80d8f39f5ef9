"""`sagemaker` mode at the API-request level: botocore's Stubber validates every request
against the SageMaker service model. No test calls AWS or needs credentials."""


import hashlib
import re
from pathlib import Path

import pytest
from botocore.stub import ANY

from harness.config import load_config
from harness.errors import HarnessError, StepError
from harness.job import Job
from tests.support.cli import without_aws
from tests.support.runs import write_config
from tests.support.sagemaker import (
    ARN,
    GUIDE,
    INFERENCE_DLC,
    ROLE,
    TRAINING_DLC,
    V2_TRAINING_JOB,
    Matches,
    guide,
    printed_request,
    stubbed_mode,
)


def expect_training_job(stub, *, prefix, region, instance_type, metric_definitions, count=1,
                        spot=False, checkpoints=False):
    stopping = {"MaxRuntimeInSeconds": 14400, **({"MaxWaitTimeInSeconds": 20000} if spot else {})}
    channels = [{"DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"{prefix}/data/{name}",
        "S3DataDistributionType": "FullyReplicated"}}, "ChannelName": name}
        for name in ("train", "test")]
    # The config's keys only (train.py's defaults apply to the rest), and --model_name.
    hyperparameters = {"epochs": "1", "train_batch_size": "32", "eval_batch_size": "64",
                       "warmup_steps": "500", "learning_rate": "5e-05",
                       "model_name": '"distilbert-base-uncased"',
                       "sagemaker_submit_directory": Matches(
                           rf'"{prefix}/code/imdb-distilbert-[0-9-]+/source/sourcedir.tar.gz"'),
                       "sagemaker_program": '"train.py"',
                       "sagemaker_container_log_level": "20", "sagemaker_job_name": ANY,
                       "sagemaker_region": f'"{region}"',
                       # torchrun on every instance, one process per GPU (the HF DLC's launcher)
                       "sagemaker_torch_distributed_enabled": "true",
                       "sagemaker_instance_type": f'"{instance_type}"'}
    params = {"AlgorithmSpecification": {"TrainingInputMode": "File",
                                         "TrainingImage": TRAINING_DLC.format(region=region),
                                         "MetricDefinitions": metric_definitions,
                                         "EnableSageMakerMetricsTimeSeries": True},
              "OutputDataConfig": {"S3OutputPath": prefix},
              "TrainingJobName": Matches(r"imdb-distilbert-[0-9-]+"),
              "StoppingCondition": stopping,
              "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": count,
                                 "InstanceType": instance_type},
              "RoleArn": ROLE, "InputDataConfig": channels, "HyperParameters": hyperparameters,
              **V2_TRAINING_JOB,
              **({"EnableManagedSpotTraining": True} if spot else {}),
              **({"CheckpointConfig": {"S3Uri": Matches(
                  rf"{prefix}/imdb-distilbert-[0-9-]+/checkpoints")}} if checkpoints else {})}
    stub.add_response("create_training_job", {"TrainingJobArn": ARN}, params)


def expect_endpoint(stub, *, prefix, region, instance_type="ml.g4dn.xlarge"):
    name = "imdb-distilbert-endpoint"
    # The HuggingFace model's environment: no entry point (the model's code/inference.py).
    environment = {"SAGEMAKER_PROGRAM": "", "SAGEMAKER_SUBMIT_DIRECTORY": "",
                   "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": region}
    stub.add_response("create_model", {"ModelArn": ARN}, {
        "ModelName": f"{name}-model", "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": INFERENCE_DLC.format(region=region),
                             "Environment": environment,
                             "ModelDataUrl": Matches(rf"{prefix}/imdb-distilbert-[0-9-]+/"
                                                     "output/model.tar.gz")}})
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": ARN}, {
        "EndpointConfigName": name, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": f"{name}-model", "InitialVariantWeight": 1,
            "InitialInstanceCount": 1, "InstanceType": instance_type}]})
    stub.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:x"}, {
        "EndpointName": name, "EndpointConfigName": name, "Tags": []})


def run_prefix(run_dir) -> str:
    """The default S3 prefix: the name and a hash of the run dir's absolute path."""
    digest = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:8]
    return f"s3://harness-artifacts/imdb-distilbert-{digest}"


SPOT = ("modes.sagemaker.use_spot_instances=true", "modes.sagemaker.max_wait_s=20000")


@pytest.mark.parametrize("overrides, region, instance_type, count, spot", [
    ((), "us-east-1", "ml.p3.2xlarge", 1, False),
    (("modes.sagemaker.region=eu-west-1",), "eu-west-1", "ml.p3.2xlarge", 1, False),
    (("modes.sagemaker.instance_type=ml.g5.xlarge",), "us-east-1", "ml.g5.xlarge", 1, False),
    (SPOT, "us-east-1", "ml.p3.2xlarge", 1, True),
    ((*SPOT, "checkpoints.enabled=true"), "us-east-1", "ml.p3.2xlarge", 1, True),
    (("modes.sagemaker.instance_count=2",), "us-east-1", "ml.p3.2xlarge", 2, False),
    (("modes.sagemaker.instance_type=ml.p3.16xlarge",), "us-east-1", "ml.p3.16xlarge", 1, False),
])
def test_requests_of_the_whole_run(tmp_path, overrides, region, instance_type, count, spot):
    config = guide(tmp_path, *overrides)
    prefix = run_prefix(tmp_path / "run")
    assert config.s3_root == prefix
    mode, stub = stubbed_mode(config, region)
    expect_training_job(stub, prefix=prefix, region=region, instance_type=instance_type,
                        count=count, spot=spot, checkpoints=config.checkpoints.enabled,
                        metric_definitions=[{"Name": d.Name, "Regex": d.Regex}
                                            for d in config.metric_definitions])
    expect_endpoint(stub, prefix=prefix, region=region)
    with stub:
        mode.plan({split: f"{prefix}/data/{split}" for split in ("train", "test")},
                  Job(config, mode).hyperparameters())
    stub.assert_no_pending_responses()


def test_failed_deploy_deletes_what_it_made(tmp_path):
    config = guide(tmp_path)
    mode, stub = stubbed_mode(config, "us-east-1")
    stub.add_response("create_model", {"ModelArn": ARN}, None)
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": ARN}, None)
    stub.add_client_error("create_endpoint", "ResourceLimitExceeded", "no ml.g4dn.xlarge left")
    name = "imdb-distilbert-endpoint"
    stub.add_response("delete_endpoint", {}, {"EndpointName": name})
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": name})
    stub.add_response("delete_model", {}, {"ModelName": f"{name}-model"})
    with stub, pytest.raises(StepError, match="ResourceLimitExceeded") as error:
        mode.deploy(f"{config.s3_root}/job/output/model.tar.gz")
    stub.assert_no_pending_responses()
    assert "deleted it, its endpoint config and its model" in error.value.message
    assert "Service Quotas" in error.value.hint


def test_a_refused_training_job_says_what_to_do(tmp_path):
    config = guide(tmp_path)
    mode, stub = stubbed_mode(config, "us-east-1")
    stub.add_client_error("create_training_job", "ResourceLimitExceeded",
                          "The account-level service limit 'ml.p3.2xlarge for training job "
                          "usage' is 0 Instances")
    with stub, pytest.raises(StepError, match="ml.p3.2xlarge for training job usage") as error:
        mode.train("imdb-distilbert-job", {split: f"{config.s3_root}/data/{split}"
                                           for split in ("train", "test")},
                   Job(config, mode).hyperparameters())
    assert "training job imdb-distilbert-job: " in error.value.message
    assert "Service Quotas" in error.value.hint


def test_ctrl_c_stops_the_training_job(tmp_path):
    config = guide(tmp_path)
    mode, stub = stubbed_mode(config, "us-east-1")
    stub.add_response("stop_training_job", {}, {"TrainingJobName": "imdb-distilbert-job"})
    stub.add_client_error("stop_training_job", "ValidationException",
                          "The job status is Completed", expected_params={
                              "TrainingJobName": "imdb-distilbert-job"})
    with stub:
        mode.stop_training("imdb-distilbert-job")
        mode.stop_training("imdb-distilbert-job")  # ended meanwhile: nothing to stop
    stub.assert_no_pending_responses()


def test_unknown_dlc_versions_list_the_valid_ones(tmp_path):
    config = guide(tmp_path, "modes.sagemaker.training_versions={transformers_version: 9.9.9, "
                             "pytorch_version: 2.8.0, py_version: py312}")
    mode, _ = stubbed_mode(config, "us-east-1")
    with pytest.raises(HarnessError) as error:
        mode.training_image()
    assert "no Hugging Face training DLC" in str(error.value)
    assert "4.56.2, 2.8.0, py312" in str(error.value)  # a valid combination, from the SDK
    assert "modes.sagemaker.training_versions" in error.value.hint


def test_no_role_outside_sagemaker_says_how_to_set_one(tmp_path):
    config = load_config(GUIDE, [f"run_dir={tmp_path}/run"])
    mode, _ = stubbed_mode(config, "us-east-1")
    with pytest.raises(HarnessError, match="no IAM role") as error:
        _ = mode.role
    assert "modes.sagemaker.role" in error.value.hint


def test_spot_needs_max_wait(tmp_path):
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="max_wait_s >= max_run_s"):
        guide(tmp_path, "modes.sagemaker.use_spot_instances=true")


def test_dry_run_needs_no_credentials_and_prints_none(tmp_path):
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE, "region": "eu-west-1"}})
    result = without_aws("run", "-c", str(config), "--mode", "sagemaker", "--dry-run",
                 AWS_SECRET_ACCESS_KEY="do-not-print-me")
    assert result.returncode == 0, result.stderr
    operations = [line for line in result.stdout.splitlines() if line.startswith("Create")]
    assert operations == ["CreateTrainingJob", "CreateModel", "CreateEndpointConfig",
                          "CreateEndpoint"]
    root = load_config(config).s3_root
    assert root.startswith("s3://harness-artifacts/sentiment-minilm-")  # the run dir's own
    for shown in ("ml.p3.2xlarge", "ml.g4dn.xlarge", "dkr.ecr.eu-west-1.amazonaws.com",
                  '"MaxRuntimeInSeconds": 14400', ROLE, f"{root}/channels/model",
                  f"{root}/data/train"):
        assert shown in result.stdout
    assert "do-not-print-me" not in result.stdout + result.stderr
    assert not (tmp_path / "run").exists()  # nothing was run, so nothing was recorded


@pytest.mark.parametrize("count, instance_type, cost", [
    (2, "ml.p3.2xlarge", "2 x ml.p3.2xlarge at $3.825/h, at most $30.60"),
    (1, "ml.p3.16xlarge", "1 x ml.p3.16xlarge at $28.152/h, at most $112.61"),
])
def test_dry_run_shows_instances_and_distribution(tmp_path, count, instance_type, cost):
    config = write_config(tmp_path, modes={"sagemaker": {
        "role": ROLE, "instance_type": instance_type, "instance_count": count}})
    result = without_aws("run", "-c", str(config), "--mode", "sagemaker", "--dry-run")
    assert result.returncode == 0, result.stderr
    job = printed_request(result.stdout, "CreateTrainingJob")
    assert job["ResourceConfig"] == {"InstanceCount": count, "InstanceType": instance_type,
                                     "VolumeSizeInGB": 30}
    assert job["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert cost in without_aws("train", "-c", str(config), "--mode", "sagemaker").stdout


def test_spending_needs_yes_and_shows_the_estimate(tmp_path):
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE}})
    result = without_aws("train", "-c", str(config), "--mode", "sagemaker")
    assert result.returncode == 1
    assert "ml.p3.2xlarge at $3.825/h, at most $15.30 (max_run 4.0 h)" in result.stdout
    assert "pass --yes" in result.stderr


def test_promote_shows_only_session_instances_and_image_change(tmp_path):
    result = without_aws("promote", "-c", str(write_config(tmp_path)))
    assert result.returncode == 0, result.stderr
    changed = [line.split()[1] for line in result.stdout.splitlines()
               if line.startswith("* ") and not line.startswith("* differs")]
    assert set(changed) <= {"instance_type", "instance_count", "image_uri", "py_version", "role", "session",
                            "inference", "code_location", "max_run", "use_spot_instances",
                            "max_wait"}
    assert "hyperparameters" not in changed and "entry_point" not in changed
    assert "Only the session, the instance types and the image" in result.stdout


def test_promote_allows_another_instance_count(tmp_path):
    config = write_config(tmp_path, modes={
        "sagemaker-local": {"instance_count": 2},
        "sagemaker": {"instance_type": "ml.p3.16xlarge", "instance_count": 1}})
    result = without_aws("promote", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert re.search(r"\* instance_count +2\n +-> 1\n", result.stdout)
    assert re.search(r'\n  distribution +\{"torch_distributed": \{"enabled": true\}\}\n',
                     result.stdout)
