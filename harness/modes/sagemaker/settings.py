"""`modes.sagemaker`: the settings of `sagemaker` mode (real SageMaker)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness import names
from harness.config.base import ModeSettings, Strict


class FrameworkVersions(Strict):
    """A Hugging Face DLC, as the SDK's image-URI tables name it."""

    transformers_version: str
    pytorch_version: str
    py_version: str


class LlmServing(Strict):
    """A model that generates text, served on a Hugging Face LLM DLC (vLLM or TGI) of the
    installed SDK's image tables instead of the Hugging Face inference DLC."""

    engine: Literal["vllm", "tgi"] | None = None  # None: vllm where the SDK's tables have it
    version: str | None = None  # the engine's DLC; None: the newest in the SDK's table
    num_gpus: int | None = Field(default=None, gt=0)  # None: the inference instance type's
    max_input_tokens: int = Field(default=1024, gt=0)  # the longest prompt (TGI)
    max_total_tokens: int = Field(default=2048, gt=0)  # prompt and generated tokens together

    @field_validator("version", mode="before")
    @classmethod
    def version_as_written(cls, version: object) -> object:
        return str(version) if isinstance(version, int | float) else version  # YAML's 3.3

    @model_validator(mode="after")
    def total_above_input(self) -> LlmServing:
        if self.max_total_tokens <= self.max_input_tokens:
            raise ValueError("max_total_tokens must be above max_input_tokens (it counts the "
                             "prompt and the generated tokens together)")
        return self


class SageMakerSettings(ModeSettings):
    instance_type: str = "ml.p3.2xlarge"
    inference_instance_type: str = "ml.g4dn.xlarge"
    region: str | None = None  # None: from the environment or the AWS profile
    role: str | None = None  # None: the notebook's role, inside SageMaker only
    # None: the newest Hugging Face DLC in the installed SDK's image-URI tables
    training_versions: FrameworkVersions | None = None
    inference_versions: FrameworkVersions | None = None
    max_run_s: int = Field(default=4 * 3600, gt=0)
    use_spot_instances: bool = False
    max_wait_s: int | None = Field(default=None, gt=0)
    keep_endpoint_on_failure: bool = False
    llm_serving: LlmServing | None = None  # None: the Hugging Face inference DLC
    hourly_prices_usd: dict[str, float] = {  # on-demand, us-east-1; edit for your region
        "ml.p3.2xlarge": 3.825, "ml.p3.16xlarge": 28.152, "ml.g4dn.xlarge": 0.736,
        "ml.g5.xlarge": 1.408}

    @field_validator("role")
    @classmethod
    def role_is_an_arn(cls, role: str | None) -> str | None:
        if role is not None and not names.ROLE_ARN.match(role):
            raise ValueError("the role must be an IAM role ARN, arn:aws:iam::<account-id>:role/"
                             "<role-name>; `aws iam get-role --role-name <role-name> --query "
                             "Role.Arn --output text` prints it")
        return role

    @model_validator(mode="after")
    def spot_needs_max_wait(self) -> SageMakerSettings:
        if self.use_spot_instances and (self.max_wait_s or 0) < self.max_run_s:
            raise ValueError("use_spot_instances needs max_wait_s >= max_run_s")
        return self
