"""The mode registry: a name maps to a mode's class and its settings model, each imported only
when needed. A mode is a package with the same files: `mode.py` (the class), `settings.py` (its
`modes.<name>` config section, light enough to load with every config)."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from harness.errors import HarnessError

EMULATOR, IMAGE = "emulator", "image"  # what a mode may need running on this machine


@dataclass(frozen=True)
class Registered:
    mode: str  # "package.module:Class", a `harness.modes.base.Mode`
    settings: str  # "package.module:Class", a `harness.config.base.ModeSettings`
    needs: tuple[str, ...] = ()  # EMULATOR (LocalStack S3), IMAGE (harness's image)


MODES: dict[str, Registered] = {
    name: Registered(f"harness.modes.{package}.mode:{cls}Mode",
                     f"harness.modes.{package}.settings:{cls}Settings", needs)
    for name, package, cls, needs in (
        ("local", "local", "Local", ()),
        ("sagemaker-local", "sagemaker_local", "SageMakerLocal", (EMULATOR, IMAGE)),
        ("sagemaker", "sagemaker", "SageMaker", ()))}
DEFAULT_MODE = "local"
MODE_ENV = "HARNESS_MODE"


def register(name: str, mode: str, settings: str, needs: tuple[str, ...] = ()) -> None:
    """Add a mode: `mode` and `settings` are `"package.module:Class"`, imported when needed;
    `needs`, what must run on this machine first (EMULATOR, IMAGE)."""
    MODES[name] = Registered(mode, settings, needs)


@contextlib.contextmanager
def registered(name: str, mode: str, settings: str) -> Iterator[None]:
    """Mode `name` registered for the `with` block only."""
    register(name, mode, settings)
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


def _attribute(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load(name: str):
    """The Mode class for `name`."""
    return _attribute(MODES[choose(name)].mode)


def settings_models() -> dict[str, type]:
    """Each registered mode's settings model, by mode name."""
    return {name: _attribute(registered.settings) for name, registered in MODES.items()}
