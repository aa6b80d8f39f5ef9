"""The typed job config: one YAML file, validated once, read-only afterwards."""

from __future__ import annotations

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

from harness.errors import ConfigError
from harness.serving.limits import ENV as LIMIT_ENV
from harness.serving.limits import Limits
from harness.serving.user_code import DEFAULT_PROGRAM, PROGRAM_ENV

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
PACKAGE_PREFIX = "package:"


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
    max_length: int = Field(default=512, gt=0)

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
    bucket: str = Field(default="harness-artifacts", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: str = ""


class CheckpointConfig(Strict):
    """`/opt/ml/checkpoints`, synced to `s3://<bucket>/<prefix>/<job>/checkpoints`, in every mode."""

    enabled: bool = False


class EndpointConfig(Strict):
    port: int = Field(default=8080, gt=0, lt=65536)
    # Where the local modes' endpoint listens: loopback only, or every interface.
    bind_address: Literal["127.0.0.1", "0.0.0.0"] = "127.0.0.1"
    max_body_bytes: int = Field(default=Limits.max_body_bytes, gt=0)
    max_batch_size: int = Field(default=Limits.max_batch_size, gt=0)
    request_timeout_s: float = Field(default=Limits.request_timeout_s, gt=0)
    max_connections: int = Field(default=Limits.max_connections, gt=0)
    header_timeout_s: float = Field(default=Limits.header_timeout_s, gt=0)
    idle_timeout_s: float = Field(default=Limits.idle_timeout_s, gt=0)
    startup_timeout_s: float = Field(default=120, gt=0)
    sample_inputs: list[str] = Field(default=["I love using the new Inference DLC.",
                                              "This was a waste of two hours."], min_length=1)

    @property
    def limits(self) -> Limits:
        return Limits(**{name: getattr(self, name) for name in LIMIT_ENV})


class InferenceConfig(Strict):
    """The serving code and environment, as SageMaker's Model takes them, in every mode.
    `source_dir` becomes model.tar.gz's `code/` (the SDK's repack); `entry_point` is the module
    there (`SAGEMAKER_PROGRAM`), `inference.py` by default."""

    source_dir: str | None = None
    entry_point: str | None = Field(default=None, pattern=r"^[\w.-]+\.py$")
    env: dict[str, str] = {}

    @field_validator("env", mode="before")
    @classmethod
    def strings(cls, env: Any) -> Any:
        if not isinstance(env, dict):
            return env
        return {key: str(value).lower() if isinstance(value, bool) else
                str(value) if isinstance(value, (int, float)) else value
                for key, value in env.items()}

    @field_validator("env")
    @classmethod
    def not_derived(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"{key!r} is not an environment variable name")
            limit = next((name for name, var in LIMIT_ENV.items() if var == key), None)
            if limit:
                raise ValueError(f"{key} comes from endpoint.{limit}; set that instead")
            if key == PROGRAM_ENV:
                raise ValueError(f"{key} comes from inference.entry_point; set that instead")
        return env


class JobConfig(Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", max_length=50)
    # The SDK's estimator and model family, and the toolkits' conventions that come with it.
    framework: Literal["huggingface", "pytorch"] = "huggingface"
    model: str
    dataset: DatasetConfig
    hyperparameters: Hyperparameters = Hyperparameters()
    modes: ModesConfig = ModesConfig()
    s3: S3Config = S3Config()
    checkpoints: CheckpointConfig = CheckpointConfig()
    endpoint: EndpointConfig = EndpointConfig()
    inference: InferenceConfig = InferenceConfig()
    # An existing model.tar.gz (a path or an s3:// URI) that `deploy` serves instead of the
    # trained model; `harness run` then only deploys, predicts and deletes.
    model_data: str | None = None
    source_dir: str = "../train"
    entry_point: str = "train.py"
    run_dir: str | None = None
    source: Path = Field(default=Path("."), exclude=True)  # the YAML file, for relative paths

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or f"runs/{self.name}")

    @property
    def s3_prefix(self) -> str:
        return (self.s3.prefix or self.name).strip("/")

    @property
    def s3_root(self) -> str:
        """`s3://<bucket>/<prefix>`: the root of the SageMaker modes' storage."""
        return f"s3://{self.s3.bucket}/{self.s3_prefix}"

    def resolve(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        return (self.source.parent / value).resolve()

    def inference_code(self) -> Path | None:
        """The folder that becomes model.tar.gz's `code/`, when one is configured."""
        source_dir = self.inference.source_dir
        return self.resolve(source_dir) if source_dir else None

    def resolve_model_data(self) -> str | None:
        """`model_data` as deploy takes it: an s3:// URI, or a local file's absolute path."""
        value = self.model_data
        return value if value is None or value.startswith("s3://") else str(self.resolve(value))

    def model_source(self) -> ModelSource:
        resolved = resolve_model(self)
        folder = Path(resolved) if Path(resolved).is_dir() else None
        return ModelSource(folder.name if folder else resolved, folder)


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid config"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif item["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item['input']!r})")
    return "\n".join(lines)


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
    node[leaf] = yaml.safe_load(raw)


def load_config(path: str | Path, overrides: list[str] = ()) -> JobConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}",
                          "pass an existing YAML file, e.g. configs/default.yaml") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    for override in overrides:
        _apply_override(data, override)
    try:
        config = JobConfig.model_validate({**data, "source": path.resolve()})
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e)) from None
    _check_files(path, config)
    return config


def _check_files(path: Path, config: JobConfig) -> None:
    script = config.resolve(config.source_dir) / config.entry_point
    if not script.is_file():
        raise ConfigError(f"{path}: source_dir/entry_point: training script not found: {script}",
                          "source_dir is relative to the config file's folder")
    code = config.inference_code()
    if code is not None:
        entry_point = code / (config.inference.entry_point or DEFAULT_PROGRAM)
        if not entry_point.is_file():
            raise ConfigError(f"{path}: inference.source_dir/entry_point: inference script not "
                              f"found: {entry_point}",
                              "source_dir is relative to the config file's folder; entry_point "
                              f"is a file in it ({DEFAULT_PROGRAM} by default)")
    model_data = config.resolve_model_data()
    if model_data and not model_data.startswith("s3://") and not Path(model_data).is_file():
        raise ConfigError(f"{path}: model_data: file not found: {model_data}",
                          "give a model.tar.gz (relative to the config file's folder) or an "
                          "s3:// URI")
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
        return str(folder)
    local = config.resolve(value)
    if local.is_dir():
        return str(local)
    if looks_like_path(value):
        raise ConfigError(f"{where}: model: folder not found: {local}",
                          "give a hub id (e.g. distilbert-base-uncased), a local folder, "
                          "or package:<python_package>/<folder>")
    return value
