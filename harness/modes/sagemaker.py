"""`sagemaker`: real SageMaker, on the official Hugging Face DLCs.

Next to `sagemaker-local`, only the session, the instance types and the image differ: the same
train.py, hyperparameters, channels and artifact layout. Every request goes through the SDK's
boto session, so a recording session turns the same code into a dry run (`plan`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from harness.errors import HarnessError, StepError
from harness.modes.base import Mode, SdkSession, TrainingFailed
from harness.names import job_name
from harness.process import stdout_copied_to
from harness.run_dir import Endpoint, TrainingResult
from harness.sdk import ACCOUNT, estimator_arguments, estimator_class, quiet_sdk, recording_session
from harness.storage import Storage

ROLE_HINT = ("set modes.sagemaker.role to the ARN of a role SageMaker can assume, e.g. "
             "arn:aws:iam::<account>:role/SageMakerExecutionRole")


DLC_FAMILIES = {"huggingface": "Hugging Face", "pytorch": "PyTorch"}


def dlc_image(framework: str, versions, *, region: str, instance_type: str, scope: str) -> str:
    """The DLC of `framework` (huggingface, pytorch) for these versions, from the SDK's own
    image-URI tables. A PyTorch DLC has no transformers version."""
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
        valid = "\n".join(f"    {c}" for c in dlc_combinations(framework, scope))
        key = "training_versions" if scope == "training" else "inference_versions"
        raise HarnessError(f"no {DLC_FAMILIES[framework]} {scope} DLC for "
                           f"{versions.model_dump()} in {region}: {e}\n"
                           f"  valid ({_version_names(framework)}):\n{valid}",
                           f"set modes.sagemaker.{key} to one of them") from None


def _version_names(framework: str) -> str:
    return "pytorch, python" if framework == "pytorch" else "transformers, pytorch, python"


def dlc_combinations(framework: str, scope: str) -> list[str]:
    from sagemaker import image_uris

    table = image_uris.config_for_framework(framework)[scope]["versions"]
    if framework == "pytorch":
        return [f"{version}, {', '.join(spec['py_versions'])}" for version, spec in table.items()
                if isinstance(spec, dict) and "py_versions" in spec]
    return [f"{transformers}, {base.removeprefix('pytorch')}, {', '.join(spec['py_versions'])}"
            for transformers, bases in table.items()
            for base, spec in bases.items()
            if base.startswith("pytorch") and isinstance(spec, dict)]


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
            self.config.framework, self.settings.training_versions, region=self.region,
            instance_type=self.settings.instance_type, scope="training")

    def inference_image(self) -> str:
        return dlc_image("huggingface", self.settings.inference_versions, region=self.region,
                         instance_type=self.settings.inference_instance_type, scope="inference")

    def estimator_arguments(self, hyperparameters: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        return {**estimator_arguments(self.config, s, hyperparameters),
                "image_uri": self.training_image(), "py_version": s.training_versions.py_version,
                "role": self.role, "code_location": self.storage.code(),
                "max_run": s.max_run_s, "use_spot_instances": s.use_spot_instances,
                "max_wait": s.max_wait_s}

    def estimator(self, hyperparameters: dict[str, Any], job: str):
        checkpoints = ({"checkpoint_s3_uri": self.storage.checkpoints(job)}
                       if self.config.checkpoints.enabled else {})
        return estimator_class(self.config.framework)(
            **self.estimator_arguments(hyperparameters), **checkpoints,
            sagemaker_session=self.session)

    def model(self, model_artifact: str):
        from sagemaker.huggingface import HuggingFaceModel

        return HuggingFaceModel(model_data=model_artifact, image_uri=self.inference_image(),
                                role=self.role, name=f"{self.endpoint_name}-model",
                                sagemaker_session=self.session)

    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0) -> TrainingResult:
        if interrupt_after:
            raise HarnessError("spot reclaims are rehearsed in local and sagemaker-local; on "
                               "SageMaker they are real", "drop --interrupt-after-checkpoint")
        from sagemaker.exceptions import UnexpectedStatusException

        try:
            with stdout_copied_to(self.run.new_train_log()):  # the job's log, as the SDK prints it
                self.estimator(hyperparameters, job_name).fit(channels, job_name=job_name,
                                                              wait=True, logs="All")
        except UnexpectedStatusException as e:  # the job ended Failed (or Stopped)
            raise TrainingFailed(job_name, str(e), "CloudWatch log group "
                                 f"/aws/sagemaker/TrainingJobs, stream {job_name}/...") from e
        return self.trained(job_name)

    def deploy(self, model_artifact: str) -> Endpoint:
        endpoint = Endpoint(name=self.endpoint_name, model_name=f"{self.endpoint_name}-model",
                            url=f"https://runtime.sagemaker.{self.region}.amazonaws.com/"
                                f"endpoints/{self.endpoint_name}/invocations")
        try:
            self.model(model_artifact).deploy(
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

    def dry_run(self, channels: dict[str, str], hyperparameters: dict[str, Any]) -> list[dict]:
        rehearsal, calls = self.rehearsal()
        rehearsal.plan(channels, hyperparameters)
        return calls

    def sdk_session(self) -> SdkSession:
        """The real session; `image_uri` None lets the SDK pick the DLC for the versions the
        estimator is given."""
        s = self.settings
        return SdkSession(self.session, s.instance_type, s.inference_instance_type,
                          s.image_uri, self.role, self.config.s3.bucket)

    def plan(self, channels: dict[str, str], hyperparameters: dict[str, Any]) -> None:
        """Issue the run's SageMaker requests without waiting: against a recording session,
        this is the dry run."""
        name = job_name(self.config.name)
        self.estimator(hyperparameters, name).fit(channels, job_name=name, wait=False)
        self.model(self.storage.model_artifact(name)).deploy(
            initial_instance_count=1, instance_type=self.settings.inference_instance_type,
            endpoint_name=self.endpoint_name, wait=False)
