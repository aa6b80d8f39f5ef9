"""Where the user's inference code is, as the toolkits look for it, and its requirements.

The module is `$SAGEMAKER_PROGRAM` when it is set and not empty, else `inference.py`. The
folder is `$SAGEMAKER_SUBMIT_DIRECTORY` when it names a folder here (SDK local mode mounts
`local_code` there), else `<model_dir>/code`, where the SDK repacks `source_dir` into
`model.tar.gz`. An empty `SAGEMAKER_PROGRAM`, which the SDK's `HuggingFaceModel` sets when no
entry point is given, counts as unset: the toolkits would then ignore `code/inference.py`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

PROGRAM_ENV = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
DEFAULT_PROGRAM = "inference.py"
REQUIREMENTS = "requirements.txt"
logger = logging.getLogger("harness.serving")


def code_dir(model_dir: str | Path, environ: Mapping[str, str] = os.environ) -> Path:
    submitted = environ.get(SUBMIT_DIRECTORY_ENV, "")
    if submitted and Path(submitted).is_dir():
        return Path(submitted)
    return Path(model_dir) / "code"


def script(model_dir: str | Path, environ: Mapping[str, str] = os.environ) -> Path:
    name = environ.get(PROGRAM_ENV) or DEFAULT_PROGRAM
    return code_dir(model_dir, environ) / (name if name.endswith(".py") else f"{name}.py")


def load(model_dir: str | Path) -> ModuleType | None:
    """The user's module, imported with its folder first on sys.path; None when there is none
    (the default handlers serve, as in the toolkits)."""
    path = script(model_dir)
    if not path.is_file():
        if os.environ.get(PROGRAM_ENV):
            logger.warning("%s=%s, but %s does not exist: serving with the default handlers, "
                           "as SageMaker's toolkits do", PROGRAM_ENV, os.environ[PROGRAM_ENV], path)
        return None
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None, f"{path} is a Python file"
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    logger.info("user code: %s", path)
    return module


def failure(error: BaseException, model_dir: str | Path) -> str | None:
    """The user's code's part of an error raised while it loaded or ran: its frames only (a
    SyntaxError: the file, line and caret), as the user's own traceback reads; None when no
    frame of the error is the user's."""
    folder = str(code_dir(model_dir).resolve())
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if str(Path(frame.filename).resolve()).startswith(folder)]
    inside = isinstance(error, SyntaxError) and \
        str(Path(error.filename or "").resolve()).startswith(folder)
    if not frames and not inside:
        return None
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)] \
        if frames else []
    return "".join(lines + traceback.format_exception_only(error)).rstrip()


def install_command(requirements: Path) -> list[str]:
    """The toolkits' command, with no other flags."""
    return [sys.executable, "-m", "pip", "install", "-r", str(requirements)]


def install_requirements(model_dir: str | Path) -> None:
    """pip-install the code folder's requirements.txt before the model loads, as the toolkits
    do when a serving container starts; a failure stops the server."""
    requirements = code_dir(model_dir) / REQUIREMENTS
    if not requirements.is_file():
        return
    logger.info("installing %s", requirements)
    if subprocess.run(install_command(requirements)).returncode != 0:
        raise SystemExit(f"failed to install required packages from {requirements}, exiting")
