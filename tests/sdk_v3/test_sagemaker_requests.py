"""`sagemaker` mode's requests under SDK v3, which has no estimators or Model classes: harness
sends what v2's HuggingFace estimator, model and tuner send (tests/cli/test_sagemaker_requests.py,
test_tune_transform_requests.py), each request validated by botocore's Stubber against the
service model. What differs from v2: the DLCs (v3's tables are newer), no SageMaker Debugger
defaults (`DebugHookConfig`, `ProfilerConfig`) and no `sagemaker_estimator_*` hyperparameters
in the tuning job. Skipped under v2."""

import pytest
from botocore.stub import ANY

from harness import sdk
from harness.job import Job
from tests.sdk_v3 import expected
from tests.support.sagemaker import ARN, ROLE, Matches, guide, stubbed_mode

pytestmark = pytest.mark.skipif(sdk.major() != 3, reason="SDK v3's requests; SDK v2 is installed")

TRAINING_DLC = ("763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-training:"
                "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04")
INFERENCE_DLC = ("763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-inference:"
                 "2.6.0-transformers5.5.3-gpu-py312-cu124-ubuntu22.04")
TUNING = ("tuning={objective_metric_name: eval_loss, objective_type: Minimize, "
          "strategy: Random, random_seed: 7, max_jobs: 4, max_parallel_jobs: 2, "
          "early_stopping_type: Auto, hyperparameter_ranges: {"
          "learning_rate: {type: continuous, min_value: 1.0e-5, max_value: 1.0e-3, "
          "scaling_type: Logarithmic}, "
          "train_batch_size: {type: integer, min_value: 8, max_value: 32}, "
          "optim: {type: categorical, values: [adamw_torch, sgd]}}}")
TRANSFORM = ("transform={data: 's3://my-bucket/in/', content_type: text/csv, accept: text/csv, "
             "split_type: Line, strategy: MultiRecord, assemble_with: Line, max_payload_mb: 4, "
             "max_concurrent_transforms: 2, input_filter: '$[1:]', join_source: Input, "
             "output_filter: '$[0,-1]'}")


def channels(prefix: str) -> dict[str, str]:
    return {split: f"{prefix}/data/{split}" for split in ("train", "test")}


@pytest.mark.parametrize("overrides, region, instance_type, count, spot", [
    ((), "us-east-1", "ml.p3.2xlarge", 1, False),
    (("modes.sagemaker.region=eu-west-1", "modes.sagemaker.instance_count=2"), "eu-west-1",
     "ml.p3.2xlarge", 2, False),
    (("modes.sagemaker.use_spot_instances=true", "modes.sagemaker.max_wait_s=20000",
      "checkpoints.enabled=true"), "us-east-1", "ml.g5.xlarge", 1, True),
])
def test_requests_of_the_whole_run(tmp_path, overrides, region, instance_type, count, spot):
    config = guide(tmp_path, f"modes.sagemaker.instance_type={instance_type}", *overrides)
    prefix = config.s3_root
    mode, stub = stubbed_mode(config, region)
    stopping = {"MaxRuntimeInSeconds": 14400, **({"MaxWaitTimeInSeconds": 20000} if spot else {})}
    stub.add_response("create_training_job", {"TrainingJobArn": ARN}, {
        "TrainingJobName": Matches(r"imdb-distilbert-[0-9-]+"),
        "AlgorithmSpecification": {
            "TrainingInputMode": "File", "TrainingImage": TRAINING_DLC.format(region=region),
            "MetricDefinitions": [d.model_dump() for d in config.metric_definitions],
            "EnableSageMakerMetricsTimeSeries": True},
        "OutputDataConfig": {"S3OutputPath": prefix}, "StoppingCondition": stopping,
        "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": count,
                           "InstanceType": instance_type},
        "RoleArn": ROLE, "InputDataConfig": expected.s3_channels(channels(prefix)),
        "HyperParameters": expected.hyperparameters(
            region, instance_type, Matches(rf'"{prefix}/code/imdb-distilbert-[0-9-]+/source/'
                                           r'sourcedir.tar.gz"')),
        **({"EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": Matches(rf"{prefix}/imdb-distilbert-[0-9-]+/"
                                                  "checkpoints")}} if spot else {})})
    name = "imdb-distilbert-endpoint"
    stub.add_response("create_model", {"ModelArn": ARN}, {
        "ModelName": f"{name}-model", "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": INFERENCE_DLC.format(region=region),
                             "Environment": {**expected.SCRIPT_ENV, "SAGEMAKER_REGION": region},
                             "ModelDataUrl": Matches(rf"{prefix}/imdb-distilbert-[0-9-]+/"
                                                     "output/model.tar.gz")}})
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": ARN}, {
        "EndpointConfigName": name, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": f"{name}-model", "InitialVariantWeight": 1,
            "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}]})
    stub.add_response("create_endpoint", {"EndpointArn": ARN}, {
        "EndpointName": name, "EndpointConfigName": name, "Tags": []})
    with stub:
        mode.plan(channels(prefix), Job(config, mode).hyperparameters())
    stub.assert_no_pending_responses()


def test_tuning_job_request(tmp_path):
    config = guide(tmp_path, TUNING)
    mode, stub = stubbed_mode(config, "us-east-1")
    prefix = config.s3_root
    static = expected.hyperparameters("us-east-1", "ml.p3.2xlarge", ANY)
    del static["learning_rate"], static["train_batch_size"]  # tuned
    stub.add_response("create_hyper_parameter_tuning_job",
                      {"HyperParameterTuningJobArn": ARN}, {
        "HyperParameterTuningJobName": "imdb-tune-1",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random", "RandomSeed": 7, "TrainingJobEarlyStoppingType": "Auto",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "eval_loss"},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "1e-05",
                                               "MaxValue": "0.001",
                                               "ScalingType": "Logarithmic"}],
                "IntegerParameterRanges": [{"Name": "train_batch_size", "MinValue": "8",
                                            "MaxValue": "32", "ScalingType": "Auto"}],
                "CategoricalParameterRanges": [{"Name": "optim",
                                                "Values": ['"adamw_torch"', '"sgd"']}]}},
        "TrainingJobDefinition": {
            "StaticHyperParameters": static, "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": prefix},
            "StoppingCondition": {"MaxRuntimeInSeconds": 14400},
            "HyperParameterTuningResourceConfig": {"InstanceCount": 1,
                                                   "InstanceType": "ml.p3.2xlarge",
                                                   "VolumeSizeInGB": 30},
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "TrainingImage": TRAINING_DLC.format(region="us-east-1"),
                "MetricDefinitions": [d.model_dump() for d in config.metric_definitions]},
            "InputDataConfig": expected.s3_channels(channels(prefix))}})
    with stub:
        tuner = mode.tuner(Job(config, mode).hyperparameters(), "imdb-tune-1")
        tuner.fit(channels(prefix), job_name="imdb-tune-1", wait=False)
    stub.assert_no_pending_responses()
    assert tuner.max_jobs == 4  # what `harness tune` announces


def test_transform_job_requests(tmp_path):
    config = guide(tmp_path, TRANSFORM)
    mode, stub = stubbed_mode(config, "us-east-1")
    model_data = f"{config.s3_root}/job/output/model.tar.gz"
    name = "imdb-distilbert-2026-11-29-12-00-00-000"
    stub.add_response("create_model", {"ModelArn": ARN}, {
        "ModelName": name, "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": INFERENCE_DLC.format(region="us-east-1"),
                             "Environment": ANY, "ModelDataUrl": model_data}})
    stub.add_response("create_transform_job", {"TransformJobArn": ARN}, {
        "TransformJobName": name, "ModelName": name,
        "TransformInput": {"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://my-bucket/in/"}},
            "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"{config.s3_root}/{name}",
                            "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"},
        "BatchStrategy": "MultiRecord", "MaxConcurrentTransforms": 2, "MaxPayloadInMB": 4,
        "DataProcessing": {"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]",
                           "JoinSource": "Input"}})
    with stub:
        mode._start_transform(name, model_data, wait=False)
    stub.assert_no_pending_responses()


def test_ctrl_c_stops_the_tuning_job(tmp_path, monkeypatch):
    config = guide(tmp_path, TUNING)
    mode, stub = stubbed_mode(config, "us-east-1")
    stub.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": ARN})
    stub.add_response("stop_hyper_parameter_tuning_job", {},
                      {"HyperParameterTuningJobName": "imdb-tune-1"})

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("harness.sdk.v3_jobs.HyperparameterTuner.wait", interrupted)
    with stub, pytest.raises(KeyboardInterrupt):
        mode.tune("imdb-tune-1", lambda: {"train": f"{config.s3_root}/data/train"},
                  Job(config, mode).hyperparameters(), announce=lambda line: None)
    stub.assert_no_pending_responses()
