"""`sagemaker`: real SageMaker, on the official Hugging Face DLCs.

Next to `sagemaker-local`, only the session, the instance types and the image differ: the same
train.py, hyperparameters, channels and artifact layout. Every request goes through the SDK's
boto session, so a recording session turns the same code into a dry run (`plan`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from harness import channels
from harness.errors import HarnessError, StepError
from harness.modes.base import Mode, TrainingFailed
from harness.names import job_name
from harness.run_dir import Endpoint, Prepared, TrainingResult
from harness.sdk import (
    ACCOUNT,
    estimator_arguments,
    quiet_sdk,
    recording_session,
    serving_model,
)
from harness.storage import Storage

ROLE_HINT = ("set modes.sagemaker.role to the ARN of a role SageMaker can assume, e.g. "
             "arn:aws:iam::<account>:role/SageMakerExecutionRole")


def dlc_image(versions, *, region: str, instance_type: str, scope: str,
              framework: str = "huggingface") -> str:
    """The Hugging Face DLC (or, for `pytorch`, the PyTorch DLC) for these versions, from the
    SDK's own image-URI tables."""
    from sagemaker import image_uris

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
        valid = "\n".join(f"    {c}" for c in dlc_combinations(scope))
        key = "training_versions" if scope == "training" else "inference_versions"
        raise HarnessError(f"no Hugging Face {scope} DLC for {versions.model_dump()} in "
                           f"{region}: {e}\n  valid (transformers, pytorch, python):\n{valid}",
                           f"set modes.sagemaker.{key} to one of them") from None


def dlc_combinations(scope: str) -> list[str]:
    from sagemaker import image_uris

    table = image_uris.config_for_framework("huggingface")[scope]["versions"]
    return [f"{transformers}, {framework.removeprefix('pytorch')}, {', '.join(spec['py_versions'])}"
            for transformers, frameworks in table.items()
            for framework, spec in frameworks.items()
            if framework.startswith("pytorch") and isinstance(spec, dict)]


class SageMakerMode(Mode):
    name = "sagemaker"

    def __init__(self, config, run, session=None):
        super().__init__(config, run)
        self._session = session
        quiet_sdk()

    @cached_property
    def storage(self) -> Storage:
        """S3, with the credentials of the environment (s3fs connects on first use)."""
        return Storage.s3(self.config.s3_root)

    @cached_property
    def session(self):
        if self._session is not None:
            return self._session
        import boto3
        import sagemaker

        boto = boto3.Session(region_name=self.settings.region)
        if not boto.region_name:
            raise HarnessError("no AWS region for SageMaker",
                               "set modes.sagemaker.region, or AWS_REGION / your AWS profile")
        return sagemaker.Session(boto_session=boto, default_bucket=self.config.s3.bucket)

    @property
    def region(self) -> str:
        return self.session.boto_region_name

    @cached_property
    def role(self) -> str:
        if self.settings.role:
            return self.settings.role
        import sagemaker

        try:  # works inside SageMaker (notebooks, Studio) only
            return sagemaker.get_execution_role(self.session)
        except Exception:
            raise HarnessError("no IAM role for SageMaker outside SageMaker", ROLE_HINT) from None

    def training_image(self) -> str:
        return self.settings.image_uri or dlc_image(
            self.settings.training_versions, region=self.region,
            instance_type=self.settings.instance_type, scope="training")

    def inference_image(self) -> str:
        return dlc_image(self.settings.inference_versions, region=self.region,
                         instance_type=self.settings.inference_instance_type, scope="inference",
                         framework=self.config.framework)

    def estimator_arguments(self, hyperparameters: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        return {**estimator_arguments(self.config, s, hyperparameters),
                "image_uri": self.training_image(), "py_version": s.training_versions.py_version,
                "role": self.role, "code_location": self.storage.code(),
                "max_run": s.max_run_s, "use_spot_instances": s.use_spot_instances,
                "max_wait": s.max_wait_s}

    def estimator(self, hyperparameters: dict[str, Any], job: str):
        from sagemaker.huggingface import HuggingFace

        checkpoints = ({"checkpoint_s3_uri": self.storage.checkpoints(job)}
                       if self.config.checkpoints.enabled else {})
        return HuggingFace(**self.estimator_arguments(hyperparameters), **checkpoints,
                           sagemaker_session=self.session)

    def model(self, model_data: str):
        """The Model of `model_data` (already holding the inference code) and its environment."""
        versions = self.settings.inference_versions
        return serving_model(self.config.framework, framework_version=versions.pytorch_version,
                             py_version=versions.py_version, model_data=model_data,
                             image_uri=self.inference_image(), role=self.role,
                             env=self.serving_environment(), name=f"{self.endpoint_name}-model",
                             sagemaker_session=self.session)

    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0) -> TrainingResult:
        if interrupt_after:
            raise HarnessError("spot reclaims are rehearsed in local and sagemaker-local; on "
                               "SageMaker they are real", "drop --interrupt-after-checkpoint")
        from sagemaker.exceptions import UnexpectedStatusException

        try:
            self.estimator(hyperparameters, job_name).fit(channels, job_name=job_name, wait=True,
                                                          logs="All")
        except UnexpectedStatusException as e:  # the job ended Failed (or Stopped)
            raise TrainingFailed(job_name, str(e), "CloudWatch log group "
                                 f"/aws/sagemaker/TrainingJobs, stream {job_name}/...") from e
        return self.trained(job_name)

    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        """The DLC pip-installs code/requirements.txt itself."""
        endpoint = Endpoint(name=self.endpoint_name, model_name=f"{self.endpoint_name}-model",
                            url=f"https://runtime.sagemaker.{self.region}.amazonaws.com/"
                                f"endpoints/{self.endpoint_name}/invocations")
        model = self.model(self.stage_model(model_data))
        try:
            model.deploy(
                initial_instance_count=1, instance_type=self.settings.inference_instance_type,
                endpoint_name=self.endpoint_name, wait=True)
        except BaseException:  # Ctrl-C included: a half-made endpoint still costs money
            if self.settings.keep_endpoint_on_failure:
                print(f"keeping endpoint {self.endpoint_name}; delete it with: "
                      f"{self.delete_command()}")
            else:
                self.delete(endpoint)
            raise
        return endpoint

    def delete_command(self) -> str:
        return (f"aws sagemaker delete-endpoint --region {self.region} --endpoint-name "
                f"{self.endpoint_name} && aws sagemaker delete-endpoint-config --region "
                f"{self.region} --endpoint-config-name {self.endpoint_name} && aws sagemaker "
                f"delete-model --region {self.region} --model-name {self.endpoint_name}-model")

    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        from sagemaker.huggingface import HuggingFacePredictor

        return HuggingFacePredictor(endpoint.name, sagemaker_session=self.session).predict(payload)

    def delete(self, endpoint: Endpoint) -> None:
        client = self.session.sagemaker_client
        for call, key, value in (
                (client.delete_endpoint, "EndpointName", endpoint.name),
                (client.delete_endpoint_config, "EndpointConfigName", endpoint.name),
                (client.delete_model, "ModelName", endpoint.model_name)):
            try:
                call(**{key: value})
            except client.exceptions.ClientError as e:
                if "Could not find" not in str(e):
                    raise StepError(f"deleting {value} failed: {e}",
                                    f"delete it by hand: {self.delete_command()}") from None

    def cost_estimate(self) -> str:
        s = self.settings
        prices = s.hourly_prices_usd
        missing = [t for t in (s.instance_type, s.inference_instance_type) if t not in prices]
        if missing:
            raise HarnessError(f"no hourly price for {', '.join(missing)}",
                               "add it to modes.sagemaker.hourly_prices_usd")
        training = prices[s.instance_type] * s.instance_count * s.max_run_s / 3600
        spot = " (on-demand price; spot is usually cheaper)" if s.use_spot_instances else ""
        return (f"training: {s.instance_count} x {s.instance_type} at ${prices[s.instance_type]:.3f}"
                f"/h, at most ${training:.2f} (max_run {s.max_run_s / 3600:.1f} h){spot}\n"
                f"endpoint: 1 x {s.inference_instance_type} at "
                f"${prices[s.inference_instance_type]:.3f}/h while it is up")

    def describe(self) -> dict[str, str]:
        return {"session": f"sagemaker.Session in {self.region}: S3, managed instances",
                "inference instance": self.settings.inference_instance_type,
                "inference image": self.inference_image()}

    def rehearsal(self) -> tuple[SageMakerMode, list[dict]]:
        """This mode on a recording session (no credentials, no network), and its record."""
        import boto3

        region = self.settings.region or boto3.Session().region_name or "us-east-1"
        session, calls = recording_session(region, self.config.s3.bucket)
        rehearsal = SageMakerMode(self.config, self.run, session=session)
        if not self.settings.role:
            rehearsal.role = f"arn:aws:iam::{ACCOUNT}:role/SET-modes.sagemaker.role"
        return rehearsal, calls

    def dry_run(self, prepared: Prepared | None, hyperparameters: dict[str, Any]) -> list[dict]:
        rehearsal, calls = self.rehearsal()
        rehearsal.plan(prepared.channels if prepared else channels.planned(self.config, self.storage),
                       hyperparameters)
        return calls

    def plan(self, channels: dict[str, str], hyperparameters: dict[str, Any]) -> None:
        """Issue the run's SageMaker requests without waiting: against a recording session,
        this is the dry run. With `model_data` configured, the run only deploys it."""
        name = job_name(self.config.name)
        model_data = self.config.resolve_model_data()
        if model_data is None:
            self.estimator(hyperparameters, name).fit(channels, job_name=name, wait=False)
            model_data = self.storage.model_artifact(name)
        self.model(self.serving_model_uri(model_data)).deploy(
            initial_instance_count=1, instance_type=self.settings.inference_instance_type,
            endpoint_name=self.endpoint_name, wait=False)
