"""The config's typed schema: every section and key, validated once, read-only afterwards."""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness import modes, names
from harness.config.base import ModeSettings, Strict
from harness.errors import ConfigError
from harness.project import ROOT
from harness.serving.limits import ENV as LIMIT_ENV
from harness.serving.limits import Limits
from harness.serving.user_code import PROGRAM_ENV

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
PACKAGE_PREFIX = "package:"
DEFAULT_MAX_LENGTH = 512  # tokens, when the model takes that many
# harness's own demo script. It alone gets `--model_name` from `model` and has its
# hyperparameters type-checked (TrainPyHyperparameters); any other script, a copy of this one
# included, gets exactly the config's hyperparameters.
BUNDLED_SCRIPT = ROOT / "train" / "train.py"
# What `fit(inputs=...)` reads a channel from, besides local paths.
URI_SCHEMES = ("s3://", "file://")
SPLITS = ("train", "test")  # the channels `prepare` stores, with `model` for a local folder
MODEL_CHANNEL = "model"


@dataclass(frozen=True)
class ModelSource:
    """The model as a training job gets it: `--model_name` (a hub id, or a local folder's
    name) and, for a local folder, the folder itself, which travels as the `model` channel."""

    name: str
    folder: Path | None


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


class TrainPyHyperparameters(Strict):
    """The bundled train.py's arguments, type-checked before they are sent. Unset ones are not
    sent: train.py's own defaults (its fast recipe) apply."""

    epochs: int | None = Field(default=None, gt=0)
    max_steps: int | None = Field(default=None, gt=0)  # overrides epochs when set
    train_batch_size: int | None = Field(default=None, gt=0)
    eval_batch_size: int | None = Field(default=None, gt=0)
    warmup_steps: int | None = Field(default=None, ge=0)
    learning_rate: float | None = Field(default=None, gt=0)
    seed: int | None = None
    logging_steps: int | None = Field(default=None, gt=0)
    # Speed switches (see train.py --help).
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

    @field_validator("*", mode="before")
    @classmethod
    def true_false_only_for_switches(cls, value: Any, info: ValidationInfo) -> Any:
        """`epochs: true` is a mistake, not 1 (pydantic would read it as 1)."""
        types = get_args(cls.model_fields[str(info.field_name)].annotation)
        if isinstance(value, bool) and bool not in types:
            expected = "a number" if int in types or float in types else "a word"
            raise ValueError(f"expected {expected}, not true/false")
        return value


Scalar = str | bool | int | float


def _scalar(value: Any) -> Any:
    if value is not None and not isinstance(value, (str, bool, int, float)):
        raise ValueError("a hyperparameter is a string, a number or true/false: each becomes "
                         "one `--key value` argument")
    return value


Hyperparameter = Annotated[Scalar | None, BeforeValidator(_scalar)]


def _input_source(source: str) -> str:
    if "://" in source and not source.startswith(URI_SCHEMES):
        raise ValueError("give a local path, a file:// or an s3:// URI")
    return source


# SageMaker's rule for channel names.
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-_]{1,64}$")]
InputSource = Annotated[str, AfterValidator(_input_source)]


class MetricDefinition(Strict):
    """A metric read from the training log, as the estimator's `metric_definitions` take it:
    the first group of `Regex` on a log line is the value."""

    Name: str = Field(min_length=1, max_length=255)
    Regex: str = Field(min_length=1, max_length=500)

    @field_validator("Regex")
    @classmethod
    def one_group(cls, regex: str) -> str:
        try:
            groups = re.compile(regex).groups
        except re.error as e:
            raise ValueError(f"not a regular expression: {e}") from None
        if groups < 1:
            raise ValueError("needs a group around the value, e.g. 'loss: ([0-9.]+)'")
        return regex


class ModesConfig(BaseModel):
    """`modes.<name>`: each registered mode's settings, validated with the model its package
    declares (`harness.modes`), so a new mode brings its own section."""

    model_config = ConfigDict(frozen=True)
    settings: dict[str, ModeSettings]

    @model_validator(mode="before")
    @classmethod
    def from_registry(cls, data: Any) -> Any:
        if not isinstance(data, dict) or set(data) == {"settings"}:
            return data
        declared = modes.settings_models()
        fields = {name.replace("-", "_"): (model, Field(default_factory=model, alias=name))
                  for name, model in declared.items()}
        each = create_model("Modes", __config__=ConfigDict(extra="forbid", frozen=True),
                            **fields).model_validate(data)  # type: ignore[call-overload]
        return {"settings": {name: getattr(each, name.replace("-", "_")) for name in declared}}

    def for_mode(self, mode: str) -> ModeSettings:
        return self.settings[mode]


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


class ParameterRange(Strict):
    """One tuned hyperparameter, as the SDK's `ContinuousParameter`, `IntegerParameter` and
    `CategoricalParameter` take it; the scaling rules are the service's."""

    type: Literal["continuous", "integer", "categorical"]
    min_value: float | None = None
    max_value: float | None = None
    scaling_type: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"
    values: list[Scalar] | None = Field(default=None, min_length=1, max_length=30)

    @model_validator(mode="after")
    def valid_range(self) -> ParameterRange:
        if self.type == "categorical":
            if self.values is None or self.min_value is not None or self.max_value is not None:
                raise ValueError("a categorical range takes `values` (and no min/max_value)")
            return self
        if self.values is not None or self.min_value is None or self.max_value is None:
            raise ValueError(f"a {self.type} range takes `min_value` and `max_value` (and no "
                             "values)")
        if self.min_value > self.max_value:
            raise ValueError("min_value is above max_value")
        if self.type == "integer" and not (self.min_value.is_integer()
                                           and self.max_value.is_integer()):
            raise ValueError("an integer range has whole min_value and max_value")
        if self.scaling_type == "Logarithmic" and self.min_value <= 0:
            raise ValueError("Logarithmic scaling works only for ranges above 0")
        if self.scaling_type == "ReverseLogarithmic" and (
                self.type == "integer" or self.min_value < 0 or self.max_value >= 1):
            raise ValueError("ReverseLogarithmic scaling is for continuous ranges within "
                             "0 <= x < 1 only")
        return self


class TuningConfig(Strict):
    """`harness tune`: the SDK's `HyperparameterTuner` arguments, under its names."""

    objective_metric_name: str  # one of `metric_definitions`
    objective_type: Literal["Maximize", "Minimize"] = "Maximize"
    hyperparameter_ranges: dict[str, ParameterRange] = Field(min_length=1)
    strategy: Literal["Random", "Bayesian"] = "Bayesian"
    max_jobs: int = Field(default=1, gt=0)
    max_parallel_jobs: int = Field(default=1, gt=0)
    early_stopping_type: Literal["Off", "Auto"] = "Off"
    random_seed: int | None = Field(default=None, ge=0)


def _filter(path: str | None) -> str | None:
    if path is not None:
        from harness.transform.records import parse

        parse(path)
    return path


JsonPath = Annotated[str | None, AfterValidator(_filter)]


class TransformConfig(Strict):
    """`harness transform`: the SDK's `Transformer` and `transform()` arguments. `data` is
    the input (a file, a folder, an s3:// URI); each input file gets `<file>.out` under
    `output_path`."""

    data: str
    output_path: str | None = None  # None: <storage>/<transform job name>
    content_type: str | None = None
    split_type: Literal["None", "Line"] = "None"
    strategy: Literal["SingleRecord", "MultiRecord"] | None = None  # None: MultiRecord
    max_payload_mb: int = Field(default=6, ge=0, le=100)  # 0: no limit
    max_concurrent_transforms: int = Field(default=1, gt=0)
    assemble_with: Literal["None", "Line"] | None = None
    accept: str | None = None
    input_filter: JsonPath = None
    join_source: Literal["Input", "None"] | None = None
    output_filter: JsonPath = None

    @field_validator("data", "output_path")
    @classmethod
    def path_or_s3(cls, value: str | None) -> str | None:
        if value is not None and "://" in value and not value.startswith("s3://"):
            raise ValueError("give a local path or an s3:// URI")
        return value

    @model_validator(mode="after")
    def data_processing_formats(self) -> TransformConfig:
        from harness.transform.records import CSV, PROCESSED_TYPES, DataProcessing

        processing = DataProcessing(self.content_type or "", self.accept or "",
                                    self.input_filter, self.join_source, self.output_filter)
        if self.max_concurrent_transforms * self.max_payload_mb > 100:
            raise ValueError("max_concurrent_transforms * max_payload_mb may not exceed 100 "
                             "(MB), as on SageMaker")
        if not processing.active:
            return self
        if self.content_type not in PROCESSED_TYPES or self.accept not in PROCESSED_TYPES:
            raise ValueError("input_filter, join_source and output_filter need content_type "
                             f"and accept, each one of {', '.join(PROCESSED_TYPES)}")
        if CSV in (self.content_type, self.accept) and (
                self.split_type != "Line" or self.assemble_with != "Line"):
            raise ValueError("with text/csv, data processing needs split_type: Line and "
                             "assemble_with: Line")
        return self


# A SageMaker managed MLflow tracking server or MLflow App, as the sagemaker-mlflow plugin reads it.
MLFLOW_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:"
                        r"(mlflow-tracking-server|mlflow-app)/[A-Za-z0-9-]+$")
TRACKING_SCHEMES = ("http", "https", "file", "sqlite")
URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _tracking_uri(uri: str | None) -> str | None:
    if uri is None:
        return uri
    if uri.startswith("arn:"):
        if not MLFLOW_ARN.match(uri):
            raise ValueError("not a SageMaker MLflow ARN: expected arn:aws:sagemaker:<region>:"
                             "<account>:mlflow-tracking-server/<name> (or mlflow-app/<id>)")
        return uri
    scheme = URI_SCHEME.match(uri)
    if scheme and scheme.group(1).lower() not in TRACKING_SCHEMES:
        raise ValueError(f"unknown scheme {scheme.group(1)!r}: give http(s)://, file:, sqlite:, "
                         "a path, or a SageMaker MLflow ARN")
    return uri


class TrackingConfig(Strict):
    """`tracking:`: each training job an MLflow run, each tuning job a parent run of its trials
    (see docs/tracking.md). The section alone turns tracking on."""

    enabled: bool = True
    # None: MLFLOW_TRACKING_URI, else sqlite:///<the run dir's parent>/mlruns.db. A path is
    # relative to the config file's folder.
    uri: Annotated[str | None, AfterValidator(_tracking_uri)] = None
    experiment: str | None = Field(default=None, min_length=1)  # None: MLFLOW_EXPERIMENT_NAME, else `name`
    artifacts: bool = True  # training_curves.png, the config and model.tar.gz's location


class JobConfig(Strict):
    name: str = Field(max_length=50)
    # The SDK's estimator and model family, and the toolkits' conventions that come with it.
    framework: Literal["huggingface", "pytorch"] = "huggingface"
    model: str | None = None  # required with `dataset`: prepare tokenizes with its tokenizer
    dataset: DatasetConfig | None = None  # None: no prepare step; channels come from `inputs`
    # The estimator's own arguments, under the SDK's names.
    inputs: dict[ChannelName, InputSource] = {}  # channel -> local path, file:// or s3:// URI
    hyperparameters: dict[str, Hyperparameter] = {}  # sent as `--key value`; None: not sent
    metric_definitions: list[MetricDefinition] = []
    modes: ModesConfig = Field(default_factory=lambda: ModesConfig.model_validate({}))
    s3: S3Config = S3Config()
    checkpoints: CheckpointConfig = CheckpointConfig()
    endpoint: EndpointConfig = EndpointConfig()
    inference: InferenceConfig = InferenceConfig()
    tuning: TuningConfig | None = None  # `harness tune`
    transform: TransformConfig | None = None  # `harness transform`
    tracking: TrackingConfig | None = None  # MLflow; None: on only where MLFLOW_TRACKING_URI is set
    # An existing model.tar.gz (a path or an s3:// URI) that `deploy` serves instead of the
    # trained model; `harness run` then only deploys, predicts and deletes.
    model_data: str | None = None
    source_dir: str = "../train"
    entry_point: str = "train.py"
    run_dir: str | None = None
    source: Path = Field(default=Path("."), exclude=True)  # the YAML file, for relative paths
    # The (key, value) overrides it was loaded with: with `source`, how to load it again.
    overrides: tuple[tuple[str, Any], ...] = Field(default=(), exclude=True)

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
        return (self.source.parent / Path(value).expanduser()).resolve()

    def local_input(self, source: str) -> Path | None:
        """The file or folder on this machine an input names (a path or a file:// URI); None
        for an s3:// URI."""
        return None if source.startswith("s3://") else self.resolve(source.removeprefix("file://"))

    @property
    def script(self) -> Path:
        return self.resolve(self.source_dir) / self.entry_point

    @property
    def bundled_script(self) -> bool:
        """Whether the entry point is harness's own train.py (not a copy of it)."""
        return BUNDLED_SCRIPT.is_file() and self.script.is_file() and \
            self.script.samefile(BUNDLED_SCRIPT)

    @property
    def sent_hyperparameters(self) -> dict[str, Scalar]:
        return {key: value for key, value in self.hyperparameters.items() if value is not None}

    @property
    def sample_seed(self) -> int:
        """The seed of the dataset's sample limits: the `seed` hyperparameter, else 42."""
        seed = self.hyperparameters.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else 42

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

    @field_validator("metric_definitions")
    @classmethod
    def unique_metric_names(cls, definitions: list[MetricDefinition]) -> list[MetricDefinition]:
        given = [d.Name for d in definitions]
        repeated = sorted({n for n in given if given.count(n) > 1})
        if repeated:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")
        return definitions



def prepared_channel_names(config: JobConfig) -> list[str]:
    """The channels `prepare` stores: the splits, and `model` for a local model folder."""
    return [*SPLITS, *([MODEL_CHANNEL] if config.model_source().folder else [])]


def looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or not HUB_ID.match(value)


def resolve_model(config: JobConfig, path: Path | None = None) -> str:
    """The model as train.py gets it: a local folder's absolute path, or a hub id."""
    where = path or config.source
    value = config.model
    assert value is not None, "called for a config with a model"
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
