"""`sagemaker`: real SageMaker, on the official Hugging Face DLCs.

Next to `sagemaker-local`, only the session, the instance types and the image differ: the same
train.py, hyperparameters, channels and artifact layout. Every request goes through the SDK's
boto session, so a recording session turns the same code into a dry run (`plan`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from harness import names
from harness.errors import HarnessError, StepError, warn
from harness.host import invocations
from harness.host.process import stdout_copied_to
from harness.modes.base import Mode, SdkSession, TrainingFailed
from harness.modes.sagemaker import aws, llm_serving
from harness.modes.sagemaker.aws import ROLE_HINT
from harness.modes.sagemaker.settings import FrameworkVersions, SageMakerSettings
from harness.run_dir import Endpoint, TrainingResult, TransformResult, TuningResult
from harness.sdk import (
    ACCOUNT,
    adapter,
    estimator_arguments,
    interrupts_kept,
    quiet_sdk,
    recording_session,
    user_config,
)
from harness.storage import RecordingStorage, Storage
from harness.tuning import leaderboard

DRY_RUN_REGION = "us-east-1"  # what a dry run shows where no region is set
DLC_FAMILIES = {"huggingface": "Hugging Face", "pytorch": "PyTorch"}


def dlc_image(framework: str, versions, *, region: str, instance_type: str, scope: str) -> str:
    """The DLC of `framework` (huggingface, pytorch) for these versions, from the SDK's own
    image-URI tables. A PyTorch DLC has no transformers version."""
    image_uris = adapter().image_uris()
    try:
        if framework == "pytorch":
            return image_uris.retrieve("pytorch", region, version=versions.pytorch_version,
                                       py_version=versions.py_version,
                                       instance_type=instance_type, image_scope=scope)
        return image_uris.retrieve("huggingface", region, version=versions.transformers_version,
                                   base_framework_version=f"pytorch{versions.pytorch_version}",
                                   py_version=versions.py_version, instance_type=instance_type,
                                   image_scope=scope)
    except ValueError as e:
        if "Unsupported processor" in str(e):  # the Hugging Face training DLCs are GPU-only
            raise HarnessError(f"no {DLC_FAMILIES[framework]} {scope} DLC runs on "
                               f"{instance_type}: {e}",
                               "set modes.sagemaker.instance_type to a GPU type (ml.g5, "
                               "ml.g4dn, ml.p3, ...) or modes.sagemaker.image_uri to an image "
                               "of your own") from None
        valid = "\n".join(f"    {c}" for c in dlc_combinations(framework, scope))
        key = "training_versions" if scope == "training" else "inference_versions"
        raise HarnessError(f"no {DLC_FAMILIES[framework]} {scope} DLC for "
                           f"{versions.model_dump()} in {region}: {e}\n"
                           f"  valid ({_version_names(framework)}):\n{valid}",
                           f"set modes.sagemaker.{key} to one of them") from None


def dlc_versions(framework: str, versions, scope: str) -> dict[str, str]:
    """transformers, torch and Python of the DLC `versions` name (aliases resolved as the SDK's
    image-URI tables resolve them). A PyTorch DLC has no transformers."""
    image_uris = adapter().image_uris()
    py = versions.py_version.removeprefix("py")
    python = f"{py[0]}.{py[1:]}"
    if framework == "pytorch":
        aliases = image_uris.config_for_framework("pytorch")[scope].get("version_aliases", {})
        return {"transformers": "none", "python": python,
                "torch": aliases.get(versions.pytorch_version, versions.pytorch_version)}
    table = image_uris.config_for_framework("huggingface")[scope]
    transformers = table["version_aliases"].get(versions.transformers_version,
                                                versions.transformers_version)
    aliases = table["versions"].get(transformers, {}).get("version_aliases", {})
    pytorch = aliases.get(f"pytorch{versions.pytorch_version}",
                          f"pytorch{versions.pytorch_version}")
    return {"transformers": transformers, "torch": pytorch.removeprefix("pytorch"),
            "python": python}


def newest_dlc(scope: str) -> FrameworkVersions:
    """The newest Hugging Face DLC of the installed SDK's `scope` (training, inference) table:
    the highest transformers version, its newest PyTorch and Python."""
    def release(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", version))

    table = adapter().image_uris().config_for_framework("huggingface")[scope]["versions"]
    transformers = max(table, key=release)
    bases = {base: spec for base, spec in table[transformers].items()
             if base.startswith("pytorch") and isinstance(spec, dict)}
    base = max(bases, key=release)
    return FrameworkVersions(transformers_version=transformers,
                             pytorch_version=base.removeprefix("pytorch"),
                             py_version=max(bases[base]["py_versions"], key=release))


def _version_names(framework: str) -> str:
    return "pytorch, python" if framework == "pytorch" else "transformers, pytorch, python"


def dlc_combinations(framework: str, scope: str) -> list[str]:
    table = adapter().image_uris().config_for_framework(framework)[scope]["versions"]
    if framework == "pytorch":
        return [f"{version}, {', '.join(spec['py_versions'])}" for version, spec in table.items()
                if isinstance(spec, dict) and "py_versions" in spec]
    return [f"{transformers}, {base.removeprefix('pytorch')}, {', '.join(spec['py_versions'])}"
            for transformers, bases in table.items()
            for base, spec in bases.items()
            if base.startswith("pytorch") and isinstance(spec, dict)]


def _seconds(training_job: dict) -> float | None:
    """How long a tuning job's training job trained, when it has started and ended."""
    if "TrainingStartTime" in training_job and "TrainingEndTime" in training_job:
        return (training_job["TrainingEndTime"] - training_job["TrainingStartTime"]).total_seconds()
    return None


def refused(error, what: str) -> StepError:
    """A request SageMaker refused (a quota, a permission, a bad value), with its usual fix."""
    hint = {"ResourceLimitExceeded": "new accounts have no quota for most GPU instances: ask for "
                                     "one in the console, Service Quotas > Amazon SageMaker, or "
                                     "choose another instance type",
            "AccessDeniedException": "your credentials (or the role) lack the permission named "
                                     "above; add it to their IAM policy"}
    return StepError(f"{what}: {error}",
                     hint.get(error.response["Error"]["Code"], "see the message above"))


@contextlib.contextmanager
def sagemaker_job(what: str, stop: Callable[[], None],
                  failed: Callable[[Exception], BaseException] | None = None) -> Iterator[None]:
    """Start and wait for a SageMaker job (`what`): a refused request is a StepError with its
    usual fix; the job ending Failed becomes `failed(error)`; Ctrl-C calls `stop` (a job left
    running keeps costing money) and goes on."""
    from botocore.exceptions import ClientError

    unexpected_status = adapter().unexpected_status()
    try:
        with interrupts_kept():
            yield
    except unexpected_status as e:
        if failed is None:
            raise
        raise failed(e) from e
    except ClientError as e:
        raise refused(e, what) from None
    except KeyboardInterrupt:
        stop()
        raise


@dataclasses.dataclass(frozen=True)
class HostedModel:
    """This mode's part of an endpoint record: the SageMaker model behind the endpoint."""

    name: str


class SageMakerMode(Mode[SageMakerSettings]):
    name = "sagemaker"

    def __init__(self, config, run, session=None):
        super().__init__(config, run)
        self._session = session
        self._checked = False
        quiet_sdk()

    def check(self) -> None:
        """What can go wrong before any AWS call: the region, the instance types and the DLCs
        they need. Names too long for SageMaker are shortened; say so, once."""
        if self._checked:
            return
        self._checked = True
        self.region  # noqa: B018 - resolved and checked
        aws.check_instance_type(self.settings.instance_type, "training",
                                "modes.sagemaker.instance_type")
        aws.check_instance_type(self.settings.inference_instance_type, "inference",
                                "modes.sagemaker.inference_instance_type")
        self.training_image()  # a DLC for these versions, region and instance types
        self.inference_image()
        if shortened := names.shortened(self.config.name):
            warn(shortened)

    def preflight(self, step: str) -> None:
        self.check()
        aws.require_credentials(self.boto)
        if step in ("prepare", "train", "deploy", "tune", "transform"):  # before prepare's uploads
            self.role  # noqa: B018

    @cached_property
    def region(self) -> str:
        if self._session is not None:
            return self._session.boto_region_name
        return aws.require_region(self.settings.region)

    @cached_property
    def boto(self):
        return aws.boto_session(self.region)

    @cached_property
    def storage(self) -> Storage:
        """S3, with the credentials of the environment; the bucket is made if it is missing.
        On a session of its own (a rehearsal's), uploads are recorded instead."""
        if self._session is not None:
            return RecordingStorage(self.config.s3_root)
        aws.ensure_bucket(self.boto, self.config.s3.bucket, self.region)
        return Storage.s3(self.config.s3_root, client_kwargs={"region_name": self.region})

    @cached_property
    def session(self):
        if self._session is not None:
            return self._session
        return adapter().session(self.boto, self.config.s3.bucket, user_config())

    @cached_property
    def role(self) -> str:
        if self.settings.role:
            return self.settings.role
        # Inside SageMaker (notebooks, Studio) the SDK knows the role. Elsewhere it would take
        # the caller's own role from STS, which SageMaker usually cannot assume.
        if role := adapter().notebook_role(self.session):
            return role
        raise HarnessError("no IAM role for SageMaker outside SageMaker", ROLE_HINT)

    def training_image(self) -> str:
        return self.settings.image_uri or dlc_image(
            self.config.framework, self.dlc_versions("training"), region=self.region,
            instance_type=self.settings.instance_type, scope="training")

    def inference_image(self) -> str:
        if llm := self.settings.llm_serving:
            return llm_serving.image(llm, region=self.region,
                                     instance_type=self.settings.inference_instance_type)
        return dlc_image(self.config.framework, self.dlc_versions("inference"),
                         region=self.region, instance_type=self.settings.inference_instance_type,
                         scope="inference")

    def estimator_arguments(self, hyperparameters: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        return {**estimator_arguments(self.config, s, hyperparameters),
                "image_uri": self.training_image(), "py_version": self.dlc_versions("training").py_version,
                "role": self.role, "code_location": self.storage.code(),
                "max_run": s.max_run_s, "use_spot_instances": s.use_spot_instances,
                "max_wait": s.max_wait_s}

    def estimator(self, hyperparameters: dict[str, Any], job: str,
                  environment: dict[str, str] | None = None):
        checkpoints = ({"checkpoint_s3_uri": self.storage.checkpoints(job)}
                       if self.config.checkpoints.enabled else {})
        extra = {"environment": environment} if environment else {}
        return adapter().estimator_class(self.config.framework)(
            **self.estimator_arguments(hyperparameters), **checkpoints, **extra,
            sagemaker_session=self.session)

    def tracking_uri_in_job(self, uri: str) -> str | None:
        """A SageMaker managed MLflow server (its ARN; the job needs the sagemaker-mlflow
        plugin in its requirements.txt) or a server on the network; not a store on this
        machine's disk."""
        return uri if uri.startswith(("http://", "https://", "arn:")) else None

    def model(self, model_data: str, name: str | None = None):
        """The Model of `model_data` (already holding the inference code) and its environment;
        `name`: the model's, else the endpoint's model."""
        versions = self.dlc_versions("inference")
        return adapter().serving_model(
            self.config.framework, framework_version=versions.pytorch_version,
            py_version=versions.py_version, model_data=model_data,
            image_uri=self.inference_image(), role=self.role, env=self.serving_environment(),
            name=name or self.model_name, sagemaker_session=self.session)

    def serving_environment(self) -> dict[str, str]:
        """On the LLM DLC, what its SageMaker entrypoint reads, then `inference.env`."""
        env = super().serving_environment()
        if llm := self.settings.llm_serving:
            env = {**llm_serving.environment(llm, self.settings.inference_instance_type), **env}
        return env

    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0,
              environment: dict[str, str] | None = None) -> TrainingResult:
        if interrupt_after:
            raise HarnessError("spot reclaims are rehearsed in local and sagemaker-local; on "
                               "SageMaker they are real", "drop --interrupt-after-checkpoint")
        estimator = self.estimator(hyperparameters, job_name, environment)

        def failed(error: Exception) -> TrainingFailed:  # the job ended Failed (or Stopped)
            return TrainingFailed(job_name, str(error), "CloudWatch log group "
                                  f"/aws/sagemaker/TrainingJobs, stream {job_name}/...")

        # The job's log goes to train.log too, as the SDK prints it: metrics are read there.
        with sagemaker_job(f"training job {job_name}", lambda: self.stop_training(job_name),
                           failed), stdout_copied_to(self.run.new_train_log()):
            estimator.fit(channels, job_name=job_name, wait=True, logs="All")
        if estimator.latest_training_job.describe()["TrainingJobStatus"] == "Stopped":
            raise StepError(f"training job {job_name} was stopped before it completed (the SDK "
                            "only warns)", "start it again with `harness train`")
        return self.trained(job_name)

    def stop_training(self, job_name: str) -> None:
        client = self.session.sagemaker_client
        try:
            client.stop_training_job(TrainingJobName=job_name)
        except client.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "ValidationException":  # not made, or ended
                warn(f"could not stop training job {job_name}: {e}; stop it with: aws "
                     f"sagemaker stop-training-job --region {self.region} --training-job-name "
                     f"{job_name}")
            return
        warn(f"stopped training job {job_name}")

    @property
    def model_name(self) -> str:
        return names.model_name(self.config.name)

    def check_model_data(self, model_data: str, remedy: str) -> None:
        """A model.tar.gz on this machine is checked before it is uploaded; one in S3 is
        SageMaker's to read: harness does not download it."""
        if not model_data.startswith("s3://"):
            super().check_model_data(model_data, remedy)

    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        """The DLC pip-installs code/requirements.txt itself."""
        from botocore.exceptions import ClientError

        UnexpectedStatusException = adapter().unexpected_status()
        runtime = self.session.sagemaker_runtime_client.meta.endpoint_url  # an emulator's too
        endpoint = Endpoint(name=self.endpoint_name,
                            url=f"{runtime}/endpoints/{self.endpoint_name}/invocations",
                            mode_state=dataclasses.asdict(HostedModel(self.model_name)))
        model = self.model(self.stage_model(model_data))
        try:
            model.deploy(
                initial_instance_count=1, instance_type=self.settings.inference_instance_type,
                endpoint_name=self.endpoint_name, wait=True)
        except BaseException as e:  # Ctrl-C included: a half-made endpoint still costs money
            if self.settings.keep_endpoint_on_failure:
                done = ("kept it (keep_endpoint_on_failure); delete it with: "
                        f"{self.delete_command()}")
            else:
                self.delete(endpoint)
                done = "deleted it, its endpoint config and its model"
            if isinstance(e, UnexpectedStatusException):  # the endpoint ended Failed
                raise StepError(f"endpoint {self.endpoint_name} failed: {e}", f"harness {done}; "
                                "the endpoint's logs are in CloudWatch, log group "
                                f"/aws/sagemaker/Endpoints/{self.endpoint_name}") from None
            if isinstance(e, ClientError):
                raise refused(e, f"endpoint {self.endpoint_name} (harness {done})") from None
            warn(f"endpoint {self.endpoint_name} was not deployed: harness {done}")
            raise
        return endpoint

    def delete_command(self) -> str:
        return (f"aws sagemaker delete-endpoint --region {self.region} --endpoint-name "
                f"{self.endpoint_name} && aws sagemaker delete-endpoint-config --region "
                f"{self.region} --endpoint-config-name {self.endpoint_name} && aws sagemaker "
                f"delete-model --region {self.region} --model-name {self.model_name}")

    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        return adapter().predictor(endpoint.name, self.session).predict(payload)

    def stream(self, endpoint: Endpoint, payload: Any) -> Iterator[bytes]:
        return invocations.stream(self.session.sagemaker_runtime_client, endpoint.name, payload)

    def delete(self, endpoint: Endpoint) -> None:
        client = self.session.sagemaker_client
        for call, key, value in (
                (client.delete_endpoint, "EndpointName", endpoint.name),
                (client.delete_endpoint_config, "EndpointConfigName", endpoint.name),
                (client.delete_model, "ModelName", HostedModel(**endpoint.mode_state).name)):
            try:
                call(**{key: value})
            except client.exceptions.ClientError as e:
                if "Could not find" not in str(e):
                    raise StepError(f"deleting {value} failed: {e}",
                                    f"delete it by hand: {self.delete_command()}") from None

    def tuner(self, hyperparameters: dict[str, Any], job_name: str):
        """The SDK's HyperparameterTuner of the config's `tuning:`, on the training estimator
        (the tuned hyperparameters left out of its static ones, as the SDK leaves them out)."""
        tuning = self.config.tuning
        assert tuning is not None, "the command checked for a tuning: section"
        ranges = {name: r.model_dump() for name, r in tuning.hyperparameter_ranges.items()}
        static = {k: v for k, v in hyperparameters.items() if k not in ranges}
        return adapter().hyperparameter_tuner(
            self.estimator(static, job_name), tuning.objective_metric_name, ranges,
            metric_definitions=[d.model_dump() for d in self.config.metric_definitions],
            strategy=tuning.strategy, objective_type=tuning.objective_type,
            max_jobs=tuning.max_jobs, max_parallel_jobs=tuning.max_parallel_jobs,
            early_stopping_type=tuning.early_stopping_type, random_seed=tuning.random_seed)

    def tune(self, job_name: str, channels: Callable[[], dict[str, str]],
             hyperparameters: dict[str, Any], announce) -> tuple[TuningResult, TrainingResult]:
        tuner = self.tuner(hyperparameters, job_name)
        staged = channels()

        def stop() -> None:
            self.session.sagemaker_client.stop_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=job_name)
            warn(f"stopped tuning job {job_name} (and so its training jobs)")

        with sagemaker_job(f"tuning job {job_name}", stop):
            tuner.fit(staged or None, job_name=job_name, wait=False)
            announce(f"tuning job {job_name} started; waiting for its {tuner.max_jobs} "
                     "training jobs")
            tuner.wait()
        tuning = self.config.tuning
        assert tuning is not None, "the command checked for a tuning: section"
        trials = [{"number": n, "training_job": t["TrainingJobName"],
                   "hyperparameters": t["TunedHyperParameters"], "status": t["TrainingJobStatus"],
                   "objective": t.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get(
                       "Value"), "failure": t.get("FailureReason"), "seconds": _seconds(t)}
                  for n, t in enumerate(sorted(self._tuning_training_jobs(job_name),
                                               key=lambda t: t["CreationTime"]), 1)]
        best = self.session.sagemaker_client.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name).get("BestTrainingJob", {}).get(
                "TrainingJobName")
        if best not in {t["training_job"] for t in trials}:
            raise StepError(f"tuning job {job_name} has no best training job: none of its "
                            f"{len(trials)} training jobs completed with a "
                            f"{tuning.objective_metric_name}",
                            f"see its training jobs: aws sagemaker "
                            f"list-training-jobs-for-hyper-parameter-tuning-job "
                            f"--hyper-parameter-tuning-job-name {job_name}")
        return (TuningResult(job_name, tuning.objective_metric_name, tuning.objective_type,
                             trials, best, leaderboard(trials, tuning, best)), self.trained(best))

    def _tuning_training_jobs(self, job_name: str) -> list[dict]:
        """Every training job of the tuning job, page after page."""
        found: list[dict] = []
        token: dict[str, str] = {}
        while True:
            page = self.session.sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=job_name, MaxResults=100, **token)
            found += page["TrainingJobSummaries"]
            if not page.get("NextToken"):
                return found
            token = {"NextToken": page["NextToken"]}

    def tune_requests(self, job_name: str, store: Callable[[Storage], dict[str, str]],
                      hyperparameters: dict[str, Any]) -> list[dict]:
        rehearsal, calls = self.rehearsal()
        channels = store(rehearsal.storage)
        rehearsal.tuner(hyperparameters, job_name).fit(channels or None, job_name=job_name,
                                                        wait=False)
        return self._uploads(rehearsal) + calls

    def transformer(self, job_name: str, model_data: str):
        """The SDK's Transformer of the config's `transform:`, on a model of its own (named
        as the job), and the input's S3 URI (a local input is uploaded next to the output)."""
        spec = self.config.transform
        assert spec is not None, "the command checked for a transform: section"
        output = self.transform_uri(spec.output_path) if spec.output_path else \
            self.storage.uri(job_name)
        data = self.transform_uri(spec.data)
        if not data.startswith("s3://"):
            data = self.storage.put(Path(data), self.storage.uri(job_name + "-input",
                                                                 Path(data).name))
        model = self.model(self.stage_model(model_data), name=job_name)
        transformer = model.transformer(
            instance_count=1, instance_type=self.settings.inference_instance_type,
            strategy=spec.strategy, assemble_with=spec.assemble_with, output_path=output,
            accept=spec.accept, max_concurrent_transforms=spec.max_concurrent_transforms,
            max_payload=spec.max_payload_mb)
        return transformer, data

    def _start_transform(self, job_name: str, model_data: str, wait: bool):
        spec = self.config.transform
        assert spec is not None, "the command checked for a transform: section"
        transformer, data = self.transformer(job_name, model_data)
        transformer.transform(data, content_type=spec.content_type, split_type=spec.split_type,
                              job_name=job_name, input_filter=spec.input_filter,
                              output_filter=spec.output_filter, join_source=spec.join_source,
                              wait=wait, logs=False)
        return transformer

    def transform(self, job_name: str, model_data: str) -> TransformResult:
        def stop() -> None:
            self.session.sagemaker_client.stop_transform_job(TransformJobName=job_name)
            warn(f"stopped transform job {job_name}")

        def failed(error: Exception) -> StepError:
            return StepError(f"transform job {job_name} failed: {error}",
                             "its log is in CloudWatch, log group /aws/sagemaker/TransformJobs")

        with sagemaker_job(f"transform job {job_name}", stop, failed):
            transformer = self._start_transform(job_name, model_data, wait=True)
        output = transformer.output_path.rstrip("/")
        found = self.storage_for(output).fs.find(output)
        return TransformResult(job_name, output, [f"s3://{key}" for key in found
                                                  if key.endswith(".out")])

    def transform_requests(self, job_name: str, model_data: str) -> list[dict]:
        rehearsal, calls = self.rehearsal()
        rehearsal._start_transform(job_name, model_data, wait=False)
        return self._uploads(rehearsal) + calls

    @staticmethod
    def _uploads(rehearsal: SageMakerMode) -> list[dict]:
        storage = rehearsal.storage
        assert isinstance(storage, RecordingStorage), "a rehearsal records its uploads"
        return [{"service": "s3", "operation": "PutObject",
                 "params": dict(zip(("Bucket", "Key"), uri.removeprefix("s3://").split("/", 1),
                                   strict=True))}
                for uri in storage.uploads]

    def cost_estimate(self) -> str:
        s = self.settings
        prices = s.hourly_prices_usd
        missing = [t for t in (s.instance_type, s.inference_instance_type) if t not in prices]
        if missing:
            raise HarnessError(f"no hourly price for {', '.join(missing)}",
                               "add it to modes.sagemaker.hourly_prices_usd")
        training = prices[s.instance_type] * s.instance_count * s.max_run_s / 3600
        spot = " (on-demand price; spot is usually cheaper)" if s.use_spot_instances else ""
        tuning = self.config.tuning
        trials = "" if tuning is None else (
            f"tuning: up to {tuning.max_jobs} such training jobs ({tuning.max_parallel_jobs} at "
            f"a time), at most ${training * tuning.max_jobs:.2f}\n")
        return (f"training: {s.instance_count} x {s.instance_type} at ${prices[s.instance_type]:.3f}"
                f"/h, at most ${training:.2f} (max_run {s.max_run_s / 3600:.1f} h){spot}\n"
                f"{trials}endpoint: 1 x {s.inference_instance_type} at "
                f"${prices[s.inference_instance_type]:.3f}/h while it is up")

    def framework_versions(self) -> dict[str, dict[str, str]]:
        s = self.settings
        return {"training": (super().framework_versions()["training"] if s.image_uri
                             else dlc_versions(self.config.framework,
                                               self.dlc_versions("training"), "training")),
                "inference": (llm_serving.versions(s.llm_serving) if s.llm_serving else
                              dlc_versions(self.config.framework, self.dlc_versions("inference"),
                                           "inference"))}

    def dlc_versions(self, scope: str) -> FrameworkVersions:
        """The DLC versions of `scope` (training, inference): the config's, else the newest."""
        configured = (self.settings.training_versions if scope == "training"
                      else self.settings.inference_versions)
        return configured or newest_dlc(scope)

    def full_disk_hint(self) -> str:
        return ("the training instance's volume is full: make the job write less to /opt/ml, "
                "or use an instance type with more disk")

    def describe(self) -> dict[str, str]:
        described = {"session": f"sagemaker.Session in {self.region}: S3, managed instances",
                     "inference instance": self.settings.inference_instance_type,
                     "inference image": self.inference_image()}
        if self.settings.llm_serving:  # the LLM DLC's environment is promotion's too
            described["inference env"] = " ".join(
                f"{key}={value}" for key, value in sorted(self.serving_environment().items()))
        return described

    def rehearsal(self) -> tuple[SageMakerMode, list[dict]]:
        """This mode on a recording session and a recording storage (no credentials, no
        network), and its record of requests. A missing region or role gets a stand-in, and a
        warning."""
        found = aws.region(self.settings.region)
        if found.name:
            aws.check_region(found)
        else:
            warn(f"no AWS region set ({aws.REGION_KEY}, AWS_REGION, AWS_DEFAULT_REGION or "
                 f"your profile): showing {DRY_RUN_REGION}")
        session, calls = recording_session(found.name or DRY_RUN_REGION, self.config.s3.bucket)
        rehearsal = SageMakerMode(self.config, self.run, session=session)
        if not self.settings.role:
            rehearsal.role = f"arn:aws:iam::{ACCOUNT}:role/SET-modes.sagemaker.role"
            warn(f"no IAM role set: showing a placeholder ARN; {ROLE_HINT}")
        rehearsal.check()
        return rehearsal, calls

    def dry_run(self, store: Callable[[Storage], dict[str, str]],
                hyperparameters: dict[str, Any],
                environment: dict[str, str] | None = None) -> list[dict]:
        rehearsal, calls = self.rehearsal()
        channels = store(rehearsal.storage)
        uploads = self._uploads(rehearsal)
        rehearsal.plan(channels, hyperparameters, environment)
        return uploads + calls

    def sdk_session(self) -> SdkSession:
        """The real session; `image_uri` None lets the SDK pick the DLC for the versions the
        estimator is given."""
        s = self.settings
        return SdkSession(self.session, s.instance_type, s.inference_instance_type,
                          s.image_uri, self.role, self.config.s3.bucket,
                          instance_count=s.instance_count,
                          **adapter().swapped(False, self.region))

    def plan(self, channels: dict[str, str], hyperparameters: dict[str, Any],
             environment: dict[str, str] | None = None) -> None:
        """Issue the run's SageMaker requests without waiting: against a recording session,
        this is the dry run. With `model_data` configured, the run only deploys it."""
        name = names.job_name(self.config.name)
        model_data = self.config.resolve_model_data()
        if model_data is None:
            self.estimator(hyperparameters, name, environment).fit(channels, job_name=name,
                                                                   wait=False)
            model_data = self.storage.model_artifact(name)
        self.model(self.serving_model_uri(model_data)).deploy(
            initial_instance_count=1, instance_type=self.settings.inference_instance_type,
            endpoint_name=self.endpoint_name, wait=False)
