"""`sagemaker` mode's tuning and transform jobs at the API-request level: the SDK's
HyperparameterTuner and Transformer, each request validated by botocore's Stubber against the
SageMaker service model. No AWS call, no credentials."""

from datetime import UTC

import pytest
from botocore.stub import ANY

from harness.job import Job
from tests.support.cli import without_aws
from tests.support.runs import write_config
from tests.support.sagemaker import (
    INFERENCE_DLC,
    ROLE,
    TRAINING_DLC,
    TUNER,
    V2_TUNING_HYPERPARAMETERS,
    guide,
    printed_request,
    stubbed_mode,
)

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
ARN = "arn:aws:sagemaker:us-east-1:111122223333:x"


def test_tuning_job_request(tmp_path):
    config = guide(tmp_path, TUNING)
    mode, stub = stubbed_mode(config, "us-east-1")
    prefix = config.s3_root
    channels = {split: f"{prefix}/data/{split}" for split in ("train", "test")}
    # The tuned keys leave the static ones (learning_rate was 5e-5 in the config); the
    # categorical values are JSON-quoted, as the SDK quotes them for framework estimators.
    static = {"epochs": "1", "eval_batch_size": "64", "warmup_steps": "500",
              "model_name": '"distilbert-base-uncased"', "sagemaker_submit_directory": ANY,
              "sagemaker_program": '"train.py"', "sagemaker_container_log_level": "20",
              "sagemaker_job_name": ANY, "sagemaker_region": '"us-east-1"',
              "sagemaker_torch_distributed_enabled": "true",
              "sagemaker_instance_type": '"ml.p3.2xlarge"', **V2_TUNING_HYPERPARAMETERS}
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
            "InputDataConfig": [{"DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated"}}, "ChannelName": name}
                for name, uri in channels.items()]}})
    with stub:
        tuner = mode.tuner(Job(config, mode).hyperparameters(), "imdb-tune-1")
        tuner.fit(channels, job_name="imdb-tune-1", wait=False)
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


def test_dry_runs_print_both_requests_without_credentials(tmp_path):
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text('{"inputs": "great"}\n')
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE, "region": "eu-west-1"}},
                          dataset=None, model=None,  # no tokenizing here: faster
                          tuning={"objective_metric_name": "eval_accuracy", "max_jobs": 3,
                                  "hyperparameter_ranges": {"learning_rate": {
                                      "type": "continuous", "min_value": 1e-5,
                                      "max_value": 1e-4}}},
                          transform={"data": str(reviews), "content_type": "application/json",
                                     "split_type": "Line", "strategy": "SingleRecord"})
    tune = without_aws("tune", "-c", str(config), "--mode", "sagemaker", "--dry-run")
    assert tune.returncode == 0, tune.stderr
    request = printed_request(tune.stdout, "CreateHyperParameterTuningJob")
    assert len(request["HyperParameterTuningJobName"]) <= 32
    assert request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize", "MetricName": "eval_accuracy"}
    assert "/sourcedir.tar.gz" in request["TrainingJobDefinition"]["StaticHyperParameters"][
        "sagemaker_submit_directory"]
    transform = without_aws("transform", "-c", str(config), "--mode", "sagemaker", "--dry-run")
    assert transform.returncode == 0, transform.stderr
    job = printed_request(transform.stdout, "CreateTransformJob")
    uploaded = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert uploaded.endswith("-input/reviews.jsonl")  # the local input goes to S3 first
    assert f"PutObject {uploaded}" in transform.stdout
    assert job["BatchStrategy"] == "SingleRecord"
    assert not (tmp_path / "run").exists()
    # Without --dry-run (and without --yes), the estimate covers every trial and stops there:
    # 3 jobs of 1 x ml.p3.2xlarge for at most 4 h at $3.825/h.
    unconfirmed = without_aws("tune", "-c", str(config), "--mode", "sagemaker")
    assert unconfirmed.returncode == 1 and "pass --yes" in unconfirmed.stderr
    assert "tuning: up to 3 such training jobs (1 at a time), at most $45.90" in \
        unconfirmed.stdout


def test_emulated_modes_have_no_dry_run(tmp_path):
    config = write_config(tmp_path, transform={"data": "x.jsonl"})
    result = without_aws("transform", "-c", str(config), "--dry-run")
    assert result.returncode == 1
    assert "use --mode sagemaker --dry-run" in result.stderr


def tuning_summary(name: str, lr: str, status: str, value: float | None) -> dict:
    from datetime import datetime

    summary = {"TrainingJobName": name, "TrainingJobArn": f"{ARN}/{name}",
               "CreationTime": datetime(2026, 11, 29, 12, int(name[-1]), tzinfo=UTC),
               "TrainingJobStatus": status, "TunedHyperParameters": {"learning_rate": lr}}
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "eval_loss",
                                                                  "Value": value}
    return summary


def described_tuning_job(trials: list[dict], best: dict | None) -> dict:
    described = {"HyperParameterTuningJobName": "imdb-tune-1",
                 "HyperParameterTuningJobArn": ARN,
                 "HyperParameterTuningJobConfig": {"Strategy": "Random",
                                                   "ResourceLimits": {
                                                       "MaxParallelTrainingJobs": 2}},
                 "HyperParameterTuningJobStatus": "Completed",
                 "CreationTime": trials[0]["CreationTime"],
                 "TrainingJobStatusCounters": {}, "ObjectiveStatusCounters": {}}
    return {**described, "BestTrainingJob": best} if best else described


def stub_tuning_job(stub, pages: list[list[dict]], best: dict | None) -> None:
    """A tuning job that completed, its training jobs listed in `pages` (NextToken between)."""
    described = described_tuning_job([t for page in pages for t in page], best)
    stub.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": ARN})
    stub.add_response("describe_hyper_parameter_tuning_job", described,
                      {"HyperParameterTuningJobName": "imdb-tune-1"})
    for n, page in enumerate(pages):
        response = {"TrainingJobSummaries": page}
        if n + 1 < len(pages):
            response["NextToken"] = f"page-{n + 1}"
        expected = {"HyperParameterTuningJobName": "imdb-tune-1", "MaxResults": 100}
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", response,
                          {**expected, "NextToken": f"page-{n}"} if n else expected)
    stub.add_response("describe_hyper_parameter_tuning_job", described,
                      {"HyperParameterTuningJobName": "imdb-tune-1"})


def tuned(tmp_path, pages: list[list[dict]], best: dict | None):
    config = guide(tmp_path, TUNING)
    mode, stub = stubbed_mode(config, "us-east-1")
    channels = {split: f"{config.s3_root}/data/{split}" for split in ("train", "test")}
    stub_tuning_job(stub, pages, best)
    with stub:
        result, trained = mode.tune("imdb-tune-1", lambda: channels,
                                    Job(config, mode).hyperparameters(),
                                    announce=lambda line: None)
    stub.assert_no_pending_responses()
    return config, result, trained


def test_tuning_job_result_names_its_best_job(tmp_path):
    trials = [tuning_summary("imdb-tune-1-001", "1e-4", "Completed", 0.31),
              tuning_summary("imdb-tune-1-002", "3e-5", "Completed", 0.22),
              tuning_summary("imdb-tune-1-003", "9e-4", "Failed", None)]
    config, result, best = tuned(tmp_path, [trials], trials[1])
    assert result.best_training_job == "imdb-tune-1-002"
    assert [(t["training_job"], t["status"], t["objective"]) for t in result.trials] == [
        ("imdb-tune-1-001", "Completed", 0.31), ("imdb-tune-1-002", "Completed", 0.22),
        ("imdb-tune-1-003", "Failed", None)]
    assert best.model_artifact == f"{config.s3_root}/imdb-tune-1-002/output/model.tar.gz"


def test_tuning_job_summary_shows_only_what_exists(tmp_path):
    from harness.commands.tune import summary

    trials = [tuning_summary("imdb-tune-1-001", "1e-4", "Completed", 0.31),
              tuning_summary("imdb-tune-1-002", "3e-5", "Completed", 0.22)]
    _, result, _ = tuned(tmp_path, [trials], trials[1])
    shown = summary(result)
    assert "None" not in shown and "leaderboard plot" not in shown
    table = shown.splitlines()
    assert table[0].split()[:3] == ["trial", "status", "eval_loss"]
    assert table[1].split() == ["*", "2", "Completed", "0.2200", "3e-5", "-", "-", "-",
                                "imdb-tune-1-002"]
    assert table[2].split()[:4] == ["1", "Completed", "0.3100", "1e-4"]
    assert table[-1].startswith("best training job: imdb-tune-1-002 (* above)")


def test_tuning_job_training_jobs_are_read_past_the_first_page(tmp_path):
    first = [tuning_summary(f"imdb-tune-1-{n:03d}", "1e-4", "Completed", 0.5) for n in range(1, 4)]
    second = [tuning_summary("imdb-tune-1-004", "3e-5", "Completed", 0.1)]
    _, result, best = tuned(tmp_path, [first, second], second[0])
    assert [t["training_job"] for t in result.trials][-1] == "imdb-tune-1-004"
    assert len(result.trials) == 4
    assert result.best_training_job == "imdb-tune-1-004"


def test_tuning_job_without_a_best_job_is_a_step_error(tmp_path):
    from harness.errors import StepError

    trials = [tuning_summary("imdb-tune-1-001", "9e-4", "Failed", None)]
    with pytest.raises(StepError, match="imdb-tune-1 has no best training job"):
        tuned(tmp_path, [trials], None)


def test_ctrl_c_stops_the_tuning_job(tmp_path, monkeypatch):
    config = guide(tmp_path, TUNING)
    mode, stub = stubbed_mode(config, "us-east-1")
    stub.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": ARN})
    stub.add_response("stop_hyper_parameter_tuning_job", {},
                      {"HyperParameterTuningJobName": "imdb-tune-1"})

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(f"{TUNER}.wait", interrupted)
    with stub, pytest.raises(KeyboardInterrupt):
        mode.tune("imdb-tune-1", lambda: {"train": f"{config.s3_root}/data/train"},
                  Job(config, mode).hyperparameters(), announce=lambda line: None)
    stub.assert_no_pending_responses()


def test_tune_and_transform_without_their_section_say_what_to_add(tmp_path):
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE, "region": "eu-west-1"}})
    for command, section in (("tune", "tuning"), ("transform", "transform")):
        result = without_aws(command, "-c", str(config), "--mode", "sagemaker", "--dry-run")
        assert result.returncode == 1
        assert f"no {section}: section" in result.stderr
        assert f"add a {section}: section" in result.stderr
        assert "Traceback" not in result.stderr
