"""Checks of a validated config against what is on disk: scripts, files, the model, and
the bundled train.py's arguments."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    ValidationError,
)

from harness.config.schema import (
    JobConfig,
    TrainPyHyperparameters,
    looks_like_path,
    prepared_channel_names,
    resolve_model,
)
from harness.errors import ConfigError
from harness.serving.user_code import DEFAULT_PROGRAM


def invalid(path: Path, error: ValidationError, within: tuple[str, ...] = (),
             hint: str | None = None) -> ConfigError:
    """A one-screen error for a config that does not validate: each key and what is wrong
    with it; the validators' fixes (a `fix` in their context) or `hint` as the fix."""
    lines, fixes = [f"{path}: invalid config"], []
    for item in error.errors():
        key = ".".join(str(p) for p in (*within, *item["loc"])) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif item["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item['input']!r})")
        if "fix" in item.get("ctx", {}):
            fixes.append(item["ctx"]["fix"])
    return ConfigError("\n".join(lines), f"set {'; '.join(fixes)}" if fixes else hint)



def check_objective(path: Path, config: JobConfig) -> None:
    """A tuning job's objective is read through the metric definitions, as SageMaker reads it."""
    names = [d.Name for d in config.metric_definitions]
    tuning = config.tuning
    if tuning and tuning.objective_metric_name not in names:
        raise ConfigError(f"{path}: tuning.objective_metric_name: {tuning.objective_metric_name!r} "
                          "is not one of metric_definitions"
                          + (f" ({', '.join(names)})" if names else " (there are none)"),
                          "name one of them, or add its definition: metric_definitions: "
                          "[{Name: <metric>, Regex: '<metric>=([0-9.]+)'}]")



def typed_train_py_hyperparameters(path: Path, config: JobConfig) -> JobConfig:
    """The bundled train.py's hyperparameters, checked and typed as its arguments are."""
    try:
        typed = TrainPyHyperparameters.model_validate(config.sent_hyperparameters)
    except ValidationError as e:
        raise invalid(path, e, within=("hyperparameters",),
                       hint="these are train.py's arguments (python train/train.py --help); a "
                            "script of your own takes any") from None
    unknown = sorted(set(config.tuning.hyperparameter_ranges if config.tuning else ())
                     - set(TrainPyHyperparameters.model_fields))
    if unknown:
        raise ConfigError(f"{path}: tuning.hyperparameter_ranges.{unknown[0]}: train.py has no "
                          "such argument",
                          f"tune one of: {', '.join(TrainPyHyperparameters.model_fields)}")
    return config.model_copy(update={"hyperparameters": typed.model_dump(exclude_none=True)})


def check_files(path: Path, config: JobConfig) -> None:
    if not config.model_data and not config.script.is_file():  # model_data: nothing to train
        raise ConfigError(f"{path}: source_dir/entry_point: training script not found: "
                          f"{config.script}", "source_dir is relative to the config file's folder")
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
    for channel, source in config.inputs.items():
        local = config.local_input(source)
        if local and not local.exists():
            raise ConfigError(f"{path}: inputs.{channel}: not found: {local}",
                              "local paths are relative to the config file's folder")
    if config.model:
        resolve_model(config, path)
    ds = config.dataset
    if not ds:
        return
    for key in ("train_file", "test_file"):
        value = getattr(ds, key)
        if value and not config.resolve(value).is_file():
            raise ConfigError(f"{path}: dataset.{key}: file not found: {config.resolve(value)}",
                              "paths are relative to the config file's folder")
    if ds.name and looks_like_path(ds.name) and not config.resolve(ds.name).exists():
        raise ConfigError(f"{path}: dataset.name: folder not found: {config.resolve(ds.name)}")
    taken = sorted(set(config.inputs) & set(prepared_channel_names(config)))
    if taken:
        raise ConfigError(f"{path}: inputs.{taken[0]}: `prepare` stores the {taken[0]!r} "
                          "channel when `dataset` is set",
                          "give this input another channel name, or drop `dataset`")

