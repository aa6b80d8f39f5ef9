"""The SageMaker-compatible training and serving image, tagged by the versions it holds and
the hash of what it is built from.

Code reaches containers through `local_code`, so only the image's own inputs (Dockerfile,
requirements, the `serve` entry and the endpoint server) trigger a rebuild. The ML stack in
the image follows this machine's (`host_versions`), so `local` and `sagemaker-local` run the
same versions, and a changed environment makes a new tag.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.project import PACKAGE, ROOT, repo_file

REPOSITORY = "harness-train"
INPUTS = ("container/Dockerfile", "container/requirements.txt", "container/serve")
REQUIREMENTS = "container/requirements.txt"
# Installed in the image at this machine's versions; container/requirements.txt pins the rest.
# s3fs too: it pins fsspec, which datasets caps; sagemaker-training: the toolkit `local` runs.
HOST_PACKAGES = ("torch", "transformers", "datasets", "accelerate", "tokenizers", "s3fs",
                 "sagemaker-training")
BUILD_HINT = "build it with `harness image build` (a few minutes, once)"
# The image's Python: python:3.11-slim's, or Debian bookworm's where no registry answers.
PYTHON = "3.11"
PY_VERSION = "py" + PYTHON.replace(".", "")  # as the SDK names it


def host_versions() -> dict[str, str]:
    """HOST_PACKAGES' versions here. torch loses its build label (+cu128, +cpu): the image
    takes the CPU build of the same release (container/build.sh)."""
    return {name: metadata.version(name).split("+", 1)[0] for name in HOST_PACKAGES}


def requirements() -> str:
    """container/requirements.txt with HOST_PACKAGES pinned at this machine's versions."""
    versions = host_versions()
    lines = []
    for line in repo_file(REQUIREMENTS).read_text().splitlines():
        name = line.split("==", 1)[0].strip()
        lines.append(f"{name}=={versions[name]}" if name in versions else line)
    return "\n".join(lines) + "\n"


def framework_versions() -> dict[str, str]:
    """transformers, torch and Python in harness's image."""
    versions = host_versions()
    return {"transformers": versions["transformers"], "torch": versions["torch"],
            "python": PYTHON}


def _inputs() -> dict[str, bytes]:
    """The image's inputs by their path in a checkout, wherever they are installed, with the
    requirements as this machine makes them."""
    inputs = {name: repo_file(name).read_bytes() for name in INPUTS}
    inputs[REQUIREMENTS] = requirements().encode()
    inputs["harness/__init__.py"] = (PACKAGE / "__init__.py").read_bytes()
    for path in sorted((PACKAGE / "serving").glob("*.py")):
        inputs[f"harness/serving/{path.name}"] = path.read_bytes()
    return inputs


def default_image() -> str:
    digest = hashlib.sha256()
    for name, content in _inputs().items():
        digest.update(name.encode())
        digest.update(content)
    versions = host_versions()
    return (f"{REPOSITORY}:torch{versions['torch']}-transformers{versions['transformers']}-"
            f"{digest.hexdigest()[:12]}")


def _context(folder: Path) -> Path:
    """The build context, laid out as a checkout, in a temporary folder: the generated
    requirements go there, and build.sh copies the torch wheel and certificates into it."""
    shutil.copytree(ROOT / "container", folder / "container",
                    ignore=shutil.ignore_patterns("*.whl", "__pycache__"))
    for name, content in _inputs().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def build(force: bool = False) -> tuple[str, bool]:
    """Build the default image unless it exists; return (image, built)."""
    engine = docker_engine.client()
    image = default_image()
    if not force and docker_engine.has_image(engine, image):
        return image, False
    tag = image.split(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="harness-image-") as scratch:
        context = _context(Path(scratch))
        result = subprocess.run(["bash", str(context / "container" / "build.sh"), tag],
                                cwd=context)
    if result.returncode != 0:
        raise HarnessError(f"building {image} failed (exit {result.returncode})",
                           "see the docker build output above")
    return image, True
