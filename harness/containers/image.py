"""The SageMaker-compatible training and serving image, tagged by the versions it holds and
the hash of what it is built from.

Code reaches containers through `local_code`, so only the image's own inputs (Dockerfile,
requirements, the `serve` entry and the endpoint server) trigger a rebuild. The ML stack in
the image follows this machine's (`host_versions`), so `local` and `sagemaker-local` run the
same versions, and a changed environment makes a new tag. torch is the CPU build, or for
`local_gpu` this machine's CUDA build (`torch_build`); the tag names which.
"""

from __future__ import annotations

import hashlib
import os
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
GPU_INSTANCE = "local_gpu"  # SDK local mode asks compose for the host's GPUs on it
CPU = "cpu"
TORCH_INDEX = "https://download.pytorch.org/whl"  # + /cpu, /cu128: PyTorch's wheel indexes
# The image's Python: python:3.11-slim's, or Debian bookworm's where no registry answers.
PYTHON = "3.11"
PY_VERSION = "py" + PYTHON.replace(".", "")  # as the SDK names it


def host_versions() -> dict[str, str]:
    """HOST_PACKAGES' versions here. torch loses its build label (+cu128, +cpu): the image
    takes the CPU build of the same release (container/build.sh), or `torch_build`'s."""
    versions, missing = {}, []
    for name in HOST_PACKAGES:
        try:
            versions[name] = metadata.version(name).split("+", 1)[0]
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise HarnessError(f"harness's image takes this machine's versions of {', '.join(HOST_PACKAGES)}; "
                           f"not installed: {', '.join(missing)}",
                           f"pip install {' '.join(missing)} (installing harness brings them)")
    return versions


def build_hint(gpu: bool) -> str:
    return BUILD_HINT.replace("build`", "build --gpu`") if gpu else BUILD_HINT


def torch_build(gpu: bool) -> str:
    """The torch build the image holds: `cpu`, or for `local_gpu` this machine's CUDA build
    (`cu128` for torch 2.13.0+cu128, or PyPI's unlabelled Linux wheel built with CUDA 12.8).
    A CPU (or ROCm) torch here gives no CUDA version to match: a HarnessError says so."""
    if not gpu:
        return CPU
    release, _, label = metadata.version("torch").partition("+")
    if label.startswith("cu"):
        return label
    if not label:  # PyPI's Linux wheels carry no label; torch knows what it was built with
        import torch

        if torch.version.cuda:
            return "cu" + torch.version.cuda.replace(".", "")
    raise HarnessError(
        f"instance_type {GPU_INSTANCE} builds harness's image with this machine's CUDA build "
        f"of torch, but torch {metadata.version('torch')} here is not a CUDA build",
        f"install torch's CUDA build here (pip install 'torch=={release}' --index-url "
        f"{TORCH_INDEX}/cu128), set modes.sagemaker-local.image_uri to a CUDA image of your "
        "own, or use instance_type local")


def requirements(gpu: bool = False) -> str:
    """container/requirements.txt with HOST_PACKAGES pinned at this machine's versions; torch
    with its CUDA label for `local_gpu` (the CPU build's pin has none: either wheel matches)."""
    versions = host_versions()
    build = torch_build(gpu)
    if build != CPU:
        versions["torch"] += f"+{build}"
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


def _inputs(gpu: bool) -> dict[str, bytes]:
    """The image's inputs by their path in a checkout, wherever they are installed, with the
    requirements as this machine makes them."""
    inputs = {name: repo_file(name).read_bytes() for name in INPUTS}
    inputs[REQUIREMENTS] = requirements(gpu).encode()
    inputs["harness/__init__.py"] = (PACKAGE / "__init__.py").read_bytes()
    for path in sorted((PACKAGE / "serving").glob("*.py")):
        inputs[f"harness/serving/{path.name}"] = path.read_bytes()
    return inputs


def needs_gpu(*instance_types: str) -> bool:
    """Whether a job on these instance types (training, inference) needs the CUDA image."""
    return GPU_INSTANCE in instance_types


def default_image(gpu: bool = False) -> str:
    """harness's image for this machine: `harness-train:torch2.13.0-cpu-transformers5.23.0-
    <hash of its inputs>`, `-cu128-` in place of `-cpu-` for `local_gpu`."""
    digest = hashlib.sha256()
    for name, content in _inputs(gpu).items():
        digest.update(name.encode())
        digest.update(content)
    versions = host_versions()
    return (f"{REPOSITORY}:torch{versions['torch']}-{torch_build(gpu)}-"
            f"transformers{versions['transformers']}-{digest.hexdigest()[:12]}")


def build_environment(gpu: bool) -> dict[str, str]:
    """What container/build.sh is told: the torch build, and PyTorch's index that has it
    (used where no wheel of that build lies in the wheelhouse)."""
    build = torch_build(gpu)
    return {"TORCH_BUILD": build, "TORCH_INDEX": f"{TORCH_INDEX}/{build}"}


def _context(folder: Path, gpu: bool) -> Path:
    """The build context, laid out as a checkout, in a temporary folder: the generated
    requirements go there, and build.sh copies the torch wheel and certificates into it."""
    shutil.copytree(ROOT / "container", folder / "container",
                    ignore=shutil.ignore_patterns("*.whl", "__pycache__"))
    for name, content in _inputs(gpu).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def build(force: bool = False, gpu: bool = False) -> tuple[str, bool]:
    """Build the default image (the CUDA one with `gpu`) unless it exists; return (image,
    built)."""
    engine = docker_engine.client()
    image = default_image(gpu)
    if not force and docker_engine.has_image(engine, image):
        return image, False
    tag = image.split(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="harness-image-") as scratch:
        context = _context(Path(scratch), gpu)
        result = subprocess.run(["bash", str(context / "container" / "build.sh"), tag],
                                cwd=context, env={**os.environ, **build_environment(gpu)})
    if result.returncode != 0:
        raise HarnessError(f"building {image} failed (exit {result.returncode})",
                           "see the docker build output above")
    return image, True
