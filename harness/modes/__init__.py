"""The mode registry: a name maps to an implementation, imported only when chosen."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator

from harness.errors import HarnessError

MODES: dict[str, str] = {
    "local": "harness.modes.local:LocalMode",
    "sagemaker-local": "harness.modes.sagemaker_local:SageMakerLocalMode",
    "sagemaker": "harness.modes.sagemaker:SageMakerMode",
}
DEFAULT_MODE = "local"
MODE_ENV = "HARNESS_MODE"


def register(name: str, target: str) -> None:
    """Add a mode: `target` is `"package.module:Class"`, imported when the mode is chosen."""
    MODES[name] = target


@contextlib.contextmanager
def registered(name: str, target: str) -> Iterator[None]:
    """Mode `name` registered for the `with` block only."""
    register(name, target)
    try:
        yield
    finally:
        del MODES[name]


def choose(flag: str | None) -> str:
    """The mode, decided once: `--mode`, else `$HARNESS_MODE`, else local."""
    name = flag or os.environ.get(MODE_ENV) or DEFAULT_MODE
    if name not in MODES:
        raise HarnessError(f"unknown mode {name!r}; valid modes: {', '.join(MODES)}",
                           f"pass --mode with one of them or fix ${MODE_ENV}")
    return name


def load(name: str):
    """The Mode class for `name`."""
    module, _, attr = MODES[choose(name)].partition(":")
    return getattr(importlib.import_module(module), attr)
