"""The SageMaker-compatible training and serving image, tagged by the hash of what it holds.

Code reaches containers through `local_code`, so only the image's own inputs (Dockerfile,
requirements, the `serve` entry and the endpoint server) trigger a rebuild.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.project import IN_CHECKOUT, PACKAGE, ROOT, repo_file

REPOSITORY = "harness-train"
INPUTS = ("container/Dockerfile", "container/requirements.txt", "container/serve")
BUILD_HINT = "build it with `harness image build` (a few minutes, once)"
# The image's Python: python:3.11-slim's, or Debian bookworm's where no registry answers.
PYTHON = "3.11"
PY_VERSION = "py" + PYTHON.replace(".", "")  # as the SDK names it


def framework_versions() -> dict[str, str]:
    """transformers, torch and Python in harness's image (its requirements.txt pins them)."""
    lines = repo_file("container/requirements.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))
    return {"transformers": pins["transformers"], "torch": pins["torch"], "python": PYTHON}


def _inputs() -> dict[str, Path]:
    """The image's inputs by their path in a checkout, wherever they are installed."""
    inputs = {name: repo_file(name) for name in INPUTS}
    inputs["harness/__init__.py"] = PACKAGE / "__init__.py"
    for path in sorted((PACKAGE / "serving").glob("*.py")):
        inputs[f"harness/serving/{path.name}"] = path
    return inputs


def default_image() -> str:
    digest = hashlib.sha256()
    for name, path in _inputs().items():
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return f"{REPOSITORY}:{digest.hexdigest()[:12]}"


def _installed_context(folder: Path) -> Path:
    """An installed harness's build context, laid out as a checkout: its build.sh copies
    wheels and certificates into the context, which must not be site-packages."""
    shutil.copytree(ROOT / "container", folder / "container")
    for name, path in _inputs().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / name)
    return folder


def build(force: bool = False) -> tuple[str, bool]:
    """Build the default image unless it exists; return (image, built)."""
    engine = docker_engine.client()
    image = default_image()
    if not force and docker_engine.has_image(engine, image):
        return image, False
    tag = image.split(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="harness-image-") as scratch:
        context = ROOT if IN_CHECKOUT else _installed_context(Path(scratch))
        result = subprocess.run(["bash", str(context / "container" / "build.sh"), tag],
                                cwd=context)
    if result.returncode != 0:
        raise HarnessError(f"building {image} failed (exit {result.returncode})",
                           "see the docker build output above")
    return image, True
