"""Reading a config: its YAML file, `--set` overrides, then validation and the checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from harness.config.checks import check_files, check_objective, invalid, typed_train_py_hyperparameters
from harness.config.schema import JobConfig
from harness.errors import ConfigError


def _yaml_problem(error: yaml.YAMLError) -> tuple[str, str]:
    """(where, what) of a YAML error, in a line (PyYAML's own text takes a screen). Where is
    the start of the construct that went wrong, e.g. the `[` never closed."""
    mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
    return where, getattr(error, "problem", None) or str(error).splitlines()[0]


def _apply_override(data: dict[str, Any], key: str, value: Any, shown: str) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"bad override {shown!r}: {part} is not a section")
    node[leaf] = value


def _overrides(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, value, as the user wrote it): `--set key=value` strings (the value read as YAML)
    or a mapping of keys to values."""
    if isinstance(overrides, Mapping):
        return [(key, value, f"{key}={value!r}") for key, value in overrides.items()]
    found = []
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad --set {override!r}", "use --set key.subkey=value")
        try:
            found.append((key, yaml.safe_load(raw), override))
        except yaml.YAMLError as e:
            quoted = raw.replace('"', '\\"')
            raise ConfigError(f"--set {override}: the value is not valid YAML "
                              f"({_yaml_problem(e)[1]})",
                              f"quote it to pass it as text: --set '{key}=\"{quoted}\"'"
                              ) from None
    return found


def load_config(path: str | Path | None,
                overrides: Sequence[str] | Mapping[str, Any] = ()) -> JobConfig:
    """The config in `path` with `overrides` applied, validated. No `path`: the defaults, named
    `harness` (enough for an SDK session; a training job needs a file)."""
    if path is None:
        path, data = Path("(defaults)"), {"name": "harness"}
    else:
        path = Path(path)
        data = _read(path)
    given = _overrides(overrides)
    for key, value, shown in given:
        _apply_override(data, key, value, shown)
    try:
        config = JobConfig.model_validate({**data, "source": path.resolve(),
                                           "overrides": tuple((k, v) for k, v, _ in given)})
    except ValidationError as e:
        raise invalid(path, e) from None
    if config.dataset and not config.model:
        raise ConfigError(f"{path}: invalid config\n  model: required key is missing (with "
                          "`dataset`, prepare tokenizes it with the model's tokenizer)")
    check_objective(path, config)
    if path.is_file():
        check_files(path, config)
    if config.bundled_script:
        config = typed_train_py_hyperparameters(path, config)
    return config



def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}",
                          "pass an existing YAML file, e.g. configs/default.yaml") from None
    except IsADirectoryError:
        found = sorted(p.name for p in path.glob("*.y*ml"))
        raise ConfigError(f"config file {path} is a folder",
                          "pass a YAML file" + (f" in it, e.g. {path / found[0]}" if found
                                                else ", e.g. configs/default.yaml")) from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror}",
                          f"make it readable (chmod u+r {path}) or pass another file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text",
                          "pass the YAML config file, e.g. configs/default.yaml") from None
    except yaml.YAMLError as e:
        where, problem = _yaml_problem(e)
        raise ConfigError(f"{path}: not valid YAML at {where}: {problem}",
                          "fix the YAML there (a value holding `: `, `[` or `{` needs quotes)"
                          ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data

