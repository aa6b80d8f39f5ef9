"""The typed job config: the schema (`schema`), reading a file with overrides (`load`), and
the checks against what is on disk (`checks`). Its public names are here."""

from harness.config.base import ModeSettings
from harness.config.load import load_config
from harness.config.schema import (
    BUNDLED_SCRIPT,
    DEFAULT_MAX_LENGTH,
    MODEL_CHANNEL,
    SPLITS,
    URI_SCHEMES,
    CheckpointConfig,
    DatasetConfig,
    EndpointConfig,
    InferenceConfig,
    JobConfig,
    MetricDefinition,
    ModelSource,
    ModesConfig,
    ParameterRange,
    S3Config,
    TrainPyHyperparameters,
    TransformConfig,
    TuningConfig,
    looks_like_path,
    prepared_channel_names,
    resolve_model,
)

__all__ = [
    "BUNDLED_SCRIPT",
    "CheckpointConfig",
    "DEFAULT_MAX_LENGTH",
    "DatasetConfig",
    "EndpointConfig",
    "InferenceConfig",
    "JobConfig",
    "MODEL_CHANNEL",
    "MetricDefinition",
    "ModeSettings",
    "ModelSource",
    "ModesConfig",
    "ParameterRange",
    "S3Config",
    "SPLITS",
    "TrainPyHyperparameters",
    "TransformConfig",
    "TuningConfig",
    "URI_SCHEMES",
    "load_config",
    "looks_like_path",
    "prepared_channel_names",
    "resolve_model",
]
