"""The typed job config: one YAML file, validated once, read-only afterwards."""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness import names
from harness.errors import ConfigError
from harness.serving.limits import Limits

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
PACKAGE_PREFIX = "package:"
DEFAULT_MAX_LENGTH = 512  # tokens, when the model takes that many


@dataclass(frozen=True)
class ModelSource:
    """The model as a training job gets it: `--model_name` (a hub id, or a local folder's
    name) and, for a local folder, the folder itself, which travels as the `model` channel."""

    name: str
    folder: Path | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(Strict):
    """Either `name` (a hub dataset or a local dataset folder) or `train_file` + `test_file`."""

    name: str | None = None
    train_file: str | None = None
    test_file: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    text_column: str = "text"
    label_column: str = "label"
    label_names: list[str] | None = None
    max_train_samples: int | None = Field(default=None, gt=0)
    max_eval_samples: int | None = Field(default=None, gt=0)
    max_length: int | None = Field(default=None, gt=0)  # None: 512, or the model's limit

    @model_validator(mode="after")
    def one_source(self) -> DatasetConfig:
        files = (self.train_file, self.test_file)
        if self.name and any(files):
            raise ValueError("set either `name` or `train_file`/`test_file`, not both")
        if not self.name and not all(files):
            raise ValueError("set `name` (hub or local dataset) or both `train_file` and `test_file`")
        return self


class Hyperparameters(Strict):
    """Passed to train.py as `--key value`, exactly as SageMaker does."""

    epochs: int = Field(default=1, gt=0)
    max_steps: int | None = Field(default=None, gt=0)  # overrides epochs when set
    train_batch_size: int = Field(default=32, gt=0)
    eval_batch_size: int = Field(default=64, gt=0)
    warmup_steps: int = Field(default=0, ge=0)
    learning_rate: float = Field(default=5e-5, gt=0)
    seed: int = 42
    logging_steps: int = Field(default=10, gt=0)
    # Speed switches; unset ones keep train.py's fast defaults (see its --help).
    precision: Literal["auto", "bf16", "fp16", "fp32"] | None = None
    pad_to_max_length: bool | None = None
    pad_to_multiple_of: int | None = Field(default=None, gt=0)
    group_by_length: bool | None = None
    attn_implementation: Literal["sdpa", "eager"] | None = None
    cudnn_attention: bool | None = None
    optim: str | None = None
    torch_compile: bool | None = None
    dataloader_num_workers: int | None = Field(default=None, ge=0)
    checkpoint_steps: int | None = Field(default=None, ge=0)  # 0: each epoch (train.py's default)


class ModeSettings(Strict):
    instance_type: str
    inference_instance_type: str
    instance_count: int = Field(default=1, gt=0)
    image_uri: str | None = None  # None: the mode's default image


class LocalSettings(ModeSettings):
    """`local`: this machine is the one instance; it scales out with processes."""

    instance_type: str = "local"
    inference_instance_type: str = "local"
    processes: int = Field(default=1, gt=0)  # train.py processes (one per GPU, or per core)

    @field_validator("instance_count")
    @classmethod
    def one_instance(cls, count: int) -> int:
        if count != 1:
            raise ValueError("local mode has one instance, this machine; for several train.py "
                             "processes set modes.local.processes, for several instances use "
                             "modes.sagemaker-local.instance_count")
        return count


class SageMakerLocalSettings(ModeSettings):
    """`sagemaker-local`: `instance_count` containers (algo-1..N) on one compose network."""

    instance_type: str = "local"
    inference_instance_type: str = "local"


class FrameworkVersions(Strict):
    """A Hugging Face DLC, as the SDK's image-URI tables name it."""

    transformers_version: str
    pytorch_version: str
    py_version: str


class SageMakerSettings(ModeSettings):
    instance_type: str = "ml.p3.2xlarge"
    inference_instance_type: str = "ml.g4dn.xlarge"
    region: str | None = None  # None: from the environment or the AWS profile
    role: str | None = None  # None: the notebook's role, inside SageMaker only
    training_versions: FrameworkVersions = FrameworkVersions(
        transformers_version="4.56.2", pytorch_version="2.8.0", py_version="py312")
    inference_versions: FrameworkVersions = FrameworkVersions(
        transformers_version="4.51.3", pytorch_version="2.6.0", py_version="py312")
    max_run_s: int = Field(default=4 * 3600, gt=0)
    use_spot_instances: bool = False
    max_wait_s: int | None = Field(default=None, gt=0)
    keep_endpoint_on_failure: bool = False
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


class ModesConfig(Strict):
    local: LocalSettings = LocalSettings()
    sagemaker_local: SageMakerLocalSettings = Field(default=SageMakerLocalSettings(),
                                                    alias="sagemaker-local")
    sagemaker: SageMakerSettings = SageMakerSettings()

    def for_mode(self, mode: str) -> ModeSettings:
        return getattr(self, mode.replace("-", "_"))


class S3Config(Strict):
    bucket: str = "harness-artifacts"
    prefix: str = ""

    @field_validator("bucket")
    @classmethod
    def valid_bucket_name(cls, bucket: str) -> str:
        problem = names.bucket_problem(bucket)
        if problem:
            raise ValueError(problem)
        return bucket


class CheckpointConfig(Strict):
    """`/opt/ml/checkpoints`, synced to `s3://<bucket>/<prefix>/<job>/checkpoints`, in every mode."""

    enabled: bool = False


class EndpointConfig(Strict):
    port: int = Field(default=8080, gt=0, lt=65536)
    max_body_bytes: int = Field(default=Limits.max_body_bytes, gt=0)
    max_batch_size: int = Field(default=Limits.max_batch_size, gt=0)
    request_timeout_s: float = Field(default=Limits.request_timeout_s, gt=0)
    startup_timeout_s: float = Field(default=120, gt=0)
    sample_inputs: list[str] = Field(default=["I love using the new Inference DLC.",
                                              "This was a waste of two hours."], min_length=1)

    @property
    def limits(self) -> Limits:
        return Limits(self.max_body_bytes, self.max_batch_size, self.request_timeout_s)


class JobConfig(Strict):
    name: str = Field(max_length=50)
    # The SDK's estimator and model family, and the toolkits' conventions that come with it.
    framework: Literal["huggingface", "pytorch"] = "huggingface"
    model: str
    dataset: DatasetConfig
    hyperparameters: Hyperparameters = Hyperparameters()
    modes: ModesConfig = ModesConfig()
    s3: S3Config = S3Config()
    checkpoints: CheckpointConfig = CheckpointConfig()
    endpoint: EndpointConfig = EndpointConfig()
    source_dir: str = "../train"
    entry_point: str = "train.py"
    run_dir: str | None = None
    source: Path = Field(default=Path("."), exclude=True)  # the YAML file, for relative paths

    @field_validator("name")
    @classmethod
    def job_name(cls, name: str) -> str:
        if not names.SAGEMAKER_NAME.match(name):
            suggestion = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "my-job"
            raise PydanticCustomError("job_name", "{message}", {
                "message": "not a valid job name: letters, digits and hyphens only, starting "
                           "and ending with a letter or digit (SageMaker's rule for job names)",
                "fix": f"name: {suggestion}"})
        return name

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or f"runs/{self.name}")

    @property
    def s3_prefix(self) -> str:
        """`s3.prefix` as given; by default the name and a hash of the run dir's absolute path,
        so two run dirs (two clones, two CI jobs) never share keys, and one keeps its own."""
        if self.s3.prefix:
            return self.s3.prefix.strip("/")
        digest = hashlib.sha256(str(self.run_path.resolve()).encode()).hexdigest()[:8]
        return f"{self.name}-{digest}"

    @property
    def s3_root(self) -> str:
        """`s3://<bucket>/<prefix>`: the root of the SageMaker modes' storage."""
        return f"s3://{self.s3.bucket}/{self.s3_prefix}"

    def resolve(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        return (self.source.parent / value).resolve()

    def model_source(self) -> ModelSource:
        resolved = resolve_model(self)
        folder = Path(resolved) if Path(resolved).is_dir() else None
        return ModelSource(folder.name if folder else resolved, folder)


def _invalid(path: Path, error: ValidationError) -> ConfigError:
    lines, fixes = [f"{path}: invalid config"], []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif item["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item['input']!r})")
        if "fix" in item.get("ctx", {}):
            fixes.append(item["ctx"]["fix"])
    return ConfigError("\n".join(lines), f"set {'; '.join(fixes)}" if fixes else None)


def _yaml_problem(error: yaml.YAMLError) -> tuple[str, str]:
    """(where, what) of a YAML error, in a line (PyYAML's own text takes a screen). Where is
    the start of the construct that went wrong, e.g. the `[` never closed."""
    mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
    return where, getattr(error, "problem", None) or str(error).splitlines()[0]


def _apply_override(data: dict[str, Any], override: str) -> None:
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"bad --set {override!r}", "use --set key.subkey=value")
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"bad --set {override!r}: {part} is not a section")
    try:
        node[leaf] = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        quoted = raw.replace('"', '\\"')
        raise ConfigError(f"--set {override}: the value is not valid YAML "
                          f"({_yaml_problem(e)[1]})",
                          f"quote it to pass it as text: --set '{key}=\"{quoted}\"'") from None


def load_config(path: str | Path, overrides: list[str] = ()) -> JobConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}",
                          "pass an existing YAML file, e.g. configs/default.yaml") from None
    except yaml.YAMLError as e:
        where, problem = _yaml_problem(e)
        raise ConfigError(f"{path}: not valid YAML at {where}: {problem}",
                          "fix the YAML there (a value holding `: `, `[` or `{` needs quotes)"
                          ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    for override in overrides:
        _apply_override(data, override)
    try:
        config = JobConfig.model_validate({**data, "source": path.resolve()})
    except ValidationError as e:
        raise _invalid(path, e) from None
    _check_files(path, config)
    return config


def _check_files(path: Path, config: JobConfig) -> None:
    script = config.resolve(config.source_dir) / config.entry_point
    if not script.is_file():
        raise ConfigError(f"{path}: source_dir/entry_point: training script not found: {script}",
                          "source_dir is relative to the config file's folder")
    ds = config.dataset
    for key in ("train_file", "test_file"):
        value = getattr(ds, key)
        if value and not config.resolve(value).is_file():
            raise ConfigError(f"{path}: dataset.{key}: file not found: {config.resolve(value)}",
                              "paths are relative to the config file's folder")
    if ds.name and looks_like_path(ds.name) and not config.resolve(ds.name).exists():
        raise ConfigError(f"{path}: dataset.name: folder not found: {config.resolve(ds.name)}")
    resolve_model(config, path)


def looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or not HUB_ID.match(value)


def resolve_model(config: JobConfig, path: Path | None = None) -> str:
    """The model as train.py gets it: a local folder's absolute path, or a hub id."""
    where = path or config.source
    value = config.model
    if value.startswith(PACKAGE_PREFIX):
        package, _, inner = value[len(PACKAGE_PREFIX):].partition("/")
        try:
            folder = Path(str(importlib.resources.files(package))) / inner
        except ModuleNotFoundError:
            raise ConfigError(f"{where}: model: Python package {package!r} is not installed",
                              f"pip install {package.replace('_', '-')}") from None
        if not folder.is_dir():
            raise ConfigError(f"{where}: model: {folder} does not exist in package {package!r}")
        return _saved_model(folder, where)
    local = config.resolve(value)
    if local.is_dir():
        return _saved_model(local, where)
    if looks_like_path(value):
        raise ConfigError(f"{where}: model: folder not found: {local}",
                          "give a hub id (e.g. distilbert-base-uncased), a local folder, "
                          "or package:<python_package>/<folder>")
    return value


def _saved_model(folder: Path, where: Path) -> str:
    """A local model folder, which must hold what save_pretrained writes."""
    if not (folder / "config.json").is_file():
        contents = ", ".join(sorted(p.name for p in folder.iterdir())[:6]) or "nothing"
        raise ConfigError(f"{where}: model: {folder} holds no config.json (it holds "
                          f"{contents}), so it is not a saved model",
                          "point model at a folder written by save_pretrained (config.json, "
                          "weights and tokenizer files), or give a hub id")
    return str(folder)
