"""The SageMaker-compatible training and serving image, tagged by the hash of what it holds.

Code reaches containers through `local_code`, so only the image's own inputs (Dockerfile,
requirements, the `serve` entry and the endpoint server) trigger a rebuild.
"""

from __future__ import annotations

import hashlib
import subprocess

from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.project import ROOT, repo_file

REPOSITORY = "harness-train"
INPUTS = ("container/Dockerfile", "container/requirements.txt", "container/serve",
          "harness/__init__.py")
BUILD_HINT = "build it with `harness image build` (a few minutes, once)"
# The image's Python: python:3.11-slim's, or Debian bookworm's where no registry answers.
PYTHON = "3.11"
PY_VERSION = "py" + PYTHON.replace(".", "")  # as the SDK names it


def framework_versions() -> dict[str, str]:
    """transformers, torch and Python in harness's image (its requirements.txt pins them)."""
    lines = repo_file("container/requirements.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))
    return {"transformers": pins["transformers"], "torch": pins["torch"], "python": PYTHON}


def default_image() -> str:
    digest = hashlib.sha256()
    files = [repo_file(name) for name in INPUTS]
    files += sorted((ROOT / "harness" / "serving").glob("*.py"))
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{REPOSITORY}:{digest.hexdigest()[:12]}"


def build(force: bool = False) -> tuple[str, bool]:
    """Build the default image unless it exists; return (image, built)."""
    engine = docker_engine.client()
    image = default_image()
    if not force and docker_engine.has_image(engine, image):
        return image, False
    tag = image.split(":", 1)[1]
    result = subprocess.run(["bash", str(repo_file("container/build.sh")), tag], cwd=ROOT)
    if result.returncode != 0:
        raise HarnessError(f"building {image} failed (exit {result.returncode})",
                           "see the docker build output above")
    return image, True
