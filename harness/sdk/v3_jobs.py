"""harness's own jobs on SDK v3, which has no estimators or `Model` classes: the requests v2's
HuggingFace and PyTorch estimators, models, predictor and tuner send for harness, built here
and sent through the v3 session's clients. On a v3 `LocalSession` those are its
`LocalSagemakerClient` (v2's local mode, moved: containers under compose, the training
toolkit's `sagemaker_program` contract); on a `Session`, SageMaker's (or a recording one).

What v2 sends and these do not: the tuning job's `sagemaker_estimator_class_name` and
`sagemaker_estimator_module` (for v2's `attach`), and the training job's default
`DebugHookConfig` and `ProfilerConfig` (SageMaker Debugger, which v3 drops)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The model's code is in model_data: no program or code folder unless the model's env names
# them (as v2's Model sets them without an entry_point).
SCRIPT_ENV = {"SAGEMAKER_PROGRAM": "", "SAGEMAKER_SUBMIT_DIRECTORY": ""}
VOLUME_GB = 30
POLL_S = 5  # as v2 polls a tuning job


def _local(session) -> bool:
    return getattr(session, "local_mode", False)


def input_data_config(inputs: dict[str, str]) -> list[dict]:
    """Channels as v2's estimators send them: file:// (local mode) or S3 prefixes."""
    def source(uri: str) -> dict:
        if uri.startswith("file://"):
            return {"FileDataSource": {"FileDataDistributionType": "FullyReplicated",
                                       "FileUri": uri}}
        return {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                 "S3DataDistributionType": "FullyReplicated"}}

    return [{"DataSource": source(uri), "ChannelName": name} for name, uri in inputs.items()]


class TrainingJob:
    def __init__(self, session, name: str):
        self.session, self.name = session, name

    def describe(self) -> dict:
        return self.session.sagemaker_client.describe_training_job(TrainingJobName=self.name)


class FrameworkEstimator:
    """A framework estimator's training job: `entry_point` from `source_dir` run by the image's
    training toolkit, hyperparameters JSON-encoded, with the `sagemaker_*` ones it reads.
    Takes v2's estimator arguments; `py_version` only picks a DLC there (the image is given)."""

    def __init__(self, *, entry_point: str, source_dir: str, hyperparameters: dict[str, Any],
                 output_path: str, instance_type: str, instance_count: int,
                 distribution: dict, image_uri: str, role: str, sagemaker_session,
                 metric_definitions: list[dict] | None = None,
                 enable_sagemaker_metrics: bool = False, py_version: str | None = None,
                 environment: dict[str, str] | None = None, code_location: str | None = None,
                 max_run: int = 24 * 3600, use_spot_instances: bool = False,
                 max_wait: int | None = None, checkpoint_s3_uri: str | None = None):
        self.entry_point, self.source_dir = entry_point, source_dir
        self.hyperparameters, self.output_path = hyperparameters, output_path
        self.instance_type, self.instance_count = instance_type, instance_count
        self.distribution, self.image_uri, self.role = distribution, image_uri, role
        self.sagemaker_session = sagemaker_session
        self.metric_definitions = metric_definitions
        self.enable_sagemaker_metrics = enable_sagemaker_metrics
        self.environment, self.code_location = environment, code_location
        self.max_run, self.use_spot_instances, self.max_wait = max_run, use_spot_instances, max_wait
        self.checkpoint_s3_uri = checkpoint_s3_uri
        self.latest_training_job: TrainingJob | None = None

    def _code(self, job_name: str) -> str:
        """Where the container finds the code: the folder itself in local mode with
        `local_code`, else `sourcedir.tar.gz` uploaded under `code_location` (as v2 does)."""
        session = self.sagemaker_session
        if _local(session) and (session.config or {}).get("local", {}).get("local_code"):
            return f"file://{Path(self.source_dir).resolve()}"
        from sagemaker.core.fw_utils import tar_and_upload_dir

        bucket, _, prefix = (self.code_location or self.output_path).removeprefix(
            "s3://").partition("/")
        key_prefix = "/".join(part for part in (prefix.strip("/"), job_name, "source") if part)
        return tar_and_upload_dir(session.boto_session, bucket, key_prefix, self.entry_point,
                                  self.source_dir, s3_resource=session.s3_resource,
                                  settings=session.settings).s3_prefix

    def static_hyperparameters(self, job_name: str, leave_out=()) -> dict[str, str]:
        hyperparameters = {str(k): json.dumps(v) for k, v in self.hyperparameters.items()
                           if k not in leave_out}
        hyperparameters.update({
            "sagemaker_submit_directory": json.dumps(self._code(job_name)),
            "sagemaker_program": json.dumps(self.entry_point),
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(job_name),
            "sagemaker_region": json.dumps(self.sagemaker_session.boto_region_name)})
        if self.distribution.get("torch_distributed", {}).get("enabled"):
            hyperparameters["sagemaker_torch_distributed_enabled"] = "true"
            hyperparameters["sagemaker_instance_type"] = json.dumps(self.instance_type)
        return hyperparameters

    def algorithm(self, metric_definitions: list[dict] | None, time_series: bool) -> dict:
        spec: dict[str, Any] = {"TrainingInputMode": "File", "TrainingImage": self.image_uri}
        if metric_definitions:
            spec["MetricDefinitions"] = metric_definitions
        if time_series and self.enable_sagemaker_metrics:
            spec["EnableSageMakerMetricsTimeSeries"] = True
        return spec

    def job_settings(self) -> dict[str, Any]:
        """What a training job and a tuning job's training jobs share."""
        stopping = {"MaxRuntimeInSeconds": self.max_run}
        if self.max_wait:
            stopping["MaxWaitTimeInSeconds"] = self.max_wait
        settings: dict[str, Any] = {"RoleArn": self.role, "StoppingCondition": stopping,
                                    "OutputDataConfig": {"S3OutputPath": self.output_path}}
        if self.use_spot_instances:
            settings["EnableManagedSpotTraining"] = True
        if self.checkpoint_s3_uri:
            settings["CheckpointConfig"] = {"S3Uri": self.checkpoint_s3_uri}
        if self.environment:
            settings["Environment"] = self.environment
        return settings

    def training_job_request(self, inputs: dict[str, str], job_name: str) -> dict[str, Any]:
        request = {"TrainingJobName": job_name,
                   "AlgorithmSpecification": self.algorithm(self.metric_definitions, True),
                   "ResourceConfig": {"VolumeSizeInGB": VOLUME_GB,
                                      "InstanceCount": self.instance_count,
                                      "InstanceType": self.instance_type},
                   "HyperParameters": self.static_hyperparameters(job_name),
                   **self.job_settings()}
        if inputs:
            request["InputDataConfig"] = input_data_config(inputs)
        return request

    def fit(self, inputs: dict[str, str], job_name: str, wait: bool = True,
            logs: str = "All") -> None:
        """Local mode's create_training_job runs the job to its end, printing its log."""
        session = self.sagemaker_session
        session.sagemaker_client.create_training_job(**self.training_job_request(inputs,
                                                                                 job_name))
        self.latest_training_job = TrainingJob(session, job_name)
        if wait and not _local(session):
            from sagemaker.core.helper.session_helper import _logs_for_job

            _logs_for_job(session, job_name, wait=True, log_type=logs)


class FrameworkModel:
    """A model whose code is already in `model_data` (as v2's repack would put it)."""

    def __init__(self, *, model_data: str, image_uri: str, role: str, env: dict[str, str],
                 sagemaker_session, name: str | None = None):
        self.model_data, self.image_uri, self.role = model_data, image_uri, role
        self.env, self.sagemaker_session, self.name = env, sagemaker_session, name

    def create(self, default_name: str) -> None:
        self.name = self.name or default_name
        session = self.sagemaker_session
        environment = {**SCRIPT_ENV, **self.env, "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                       "SAGEMAKER_REGION": session.boto_region_name}
        session.sagemaker_client.create_model(
            ModelName=self.name, ExecutionRoleArn=self.role,
            PrimaryContainer={"Image": self.image_uri, "Environment": environment,
                              "ModelDataUrl": self.model_data})

    def deploy(self, *, initial_instance_count: int, instance_type: str, endpoint_name: str,
               wait: bool = True) -> None:
        """Local mode's create_endpoint starts the container and waits for its /ping."""
        self.create(f"{endpoint_name}-model")
        client = self.sagemaker_session.sagemaker_client
        client.create_endpoint_config(EndpointConfigName=endpoint_name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": self.name, "InitialVariantWeight": 1,
            "InitialInstanceCount": initial_instance_count, "InstanceType": instance_type}])
        client.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=endpoint_name,
                               Tags=[])
        if wait and not _local(self.sagemaker_session):
            self.sagemaker_session.wait_for_endpoint(endpoint_name)

    def transformer(self, *, instance_count: int, instance_type: str, **arguments):
        """v3's Transformer on this model, created first (named as the model)."""
        from sagemaker.core.transformer import Transformer

        assert self.name, "a transform's model is named as its job"
        self.create(self.name)
        return Transformer(self.name, instance_count, instance_type,
                           sagemaker_session=self.sagemaker_session, **arguments)


def _json(stream, content_type):
    try:
        return json.loads(stream.read())
    finally:
        stream.close()


class Predictor:
    """JSON in, JSON out (or `deserializer`'s), as v2's HuggingFacePredictor."""

    def __init__(self, endpoint_name: str, session, deserializer=None):
        self.endpoint_name, self.session = endpoint_name, session
        self.deserialize = deserializer.deserialize if deserializer is not None else _json

    def predict(self, payload: Any) -> Any:
        response = self.session.sagemaker_runtime_client.invoke_endpoint(
            EndpointName=self.endpoint_name, Body=json.dumps(payload),
            ContentType="application/json", Accept="application/json")
        return self.deserialize(response["Body"], response.get("ContentType"))


def parameter_ranges(ranges: dict[str, dict[str, Any]]) -> dict[str, list[dict]]:
    """The tuning job's ranges as v2 sends them for a framework estimator (categorical values
    JSON-quoted, as its hyperparameters are)."""
    found: dict[str, list[dict]] = {}
    for name, r in ranges.items():
        if r["type"] == "categorical":
            found.setdefault("CategoricalParameterRanges", []).append(
                {"Name": name, "Values": [json.dumps(v) for v in r["values"]]})
            continue
        cast = int if r["type"] == "integer" else float
        kind = "IntegerParameterRanges" if r["type"] == "integer" else "ContinuousParameterRanges"
        found.setdefault(kind, []).append({
            "Name": name, "MinValue": str(cast(r["min_value"])),
            "MaxValue": str(cast(r["max_value"])), "ScalingType": r["scaling_type"]})
    return {kind: found.get(kind, []) for kind in (
        "ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")}


class HyperparameterTuner:
    """A tuning job over `estimator`'s training job, the tuned hyperparameters left out of its
    static ones."""

    def __init__(self, estimator: FrameworkEstimator, objective_metric_name: str,
                 ranges: dict[str, dict[str, Any]], *, metric_definitions: list[dict],
                 strategy: str, objective_type: str, max_jobs: int, max_parallel_jobs: int,
                 early_stopping_type: str | None = None, random_seed: int | None = None):
        self.estimator, self.ranges = estimator, ranges
        self.max_jobs = max_jobs
        config: dict[str, Any] = {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": objective_type,
                                                 "MetricName": objective_metric_name},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                               "MaxParallelTrainingJobs": max_parallel_jobs},
            "ParameterRanges": parameter_ranges(ranges)}
        if early_stopping_type is not None:
            config["TrainingJobEarlyStoppingType"] = early_stopping_type
        if random_seed is not None:
            config["RandomSeed"] = random_seed
        self.config, self.metric_definitions = config, metric_definitions
        self.job_name: str | None = None

    def fit(self, inputs: dict[str, str] | None, job_name: str, wait: bool = False) -> None:
        e = self.estimator
        definition = {"StaticHyperParameters": e.static_hyperparameters(job_name, self.ranges),
                      **e.job_settings(),
                      "HyperParameterTuningResourceConfig": {
                          "InstanceCount": e.instance_count, "InstanceType": e.instance_type,
                          "VolumeSizeInGB": VOLUME_GB},
                      "AlgorithmSpecification": e.algorithm(self.metric_definitions, False)}
        if inputs:
            definition["InputDataConfig"] = input_data_config(inputs)
        e.sagemaker_session.sagemaker_client.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name, HyperParameterTuningJobConfig=self.config,
            TrainingJobDefinition=definition)
        self.job_name = job_name
        if wait:
            self.wait()

    def wait(self) -> None:
        """Until the tuning job ends (polled as v2 polls it); Failed raises the SDK's
        UnexpectedStatusException."""
        from sagemaker.core.helper.session_helper import _check_job_status, _wait_until

        client = self.estimator.sagemaker_session.sagemaker_client

        def ended() -> dict | None:
            described = client.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.job_name)
            return described if described["HyperParameterTuningJobStatus"] in (
                "Completed", "Failed", "Stopped") else None

        _check_job_status(self.job_name, _wait_until(ended, POLL_S),
                          "HyperParameterTuningJobStatus")
