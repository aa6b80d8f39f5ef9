"""What harness needs from this machine, one check each: `harness doctor` prints them, and the
`sagemaker-local` mode runs the ones it needs before a step. A check returns what it found, or
raises the HarnessError that names the problem and its fix. No check calls AWS."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path

from harness.containers import compose, docker_engine, emulator, image
from harness.errors import HarnessError
from harness.modes.sagemaker import aws
from harness.modes.sagemaker.aws import ROLE_HINT

ALL_MODES = frozenset({"local", "sagemaker-local", "sagemaker"})
EMULATED = frozenset({"sagemaker-local"})
STACK = ("torch", "transformers", "datasets", "accelerate", "tokenizers")
SDK = ("sagemaker", "sagemaker-training")
MIN_FREE_RUN_DIR_GB = 2  # a run: channels, checkpoints, model.tar.gz of a base-size model
MIN_FREE_DOCKER_GB = 10  # harness's image (2.5 GB) plus containers and the SDK's copies


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Machine], str]
    needed_by: frozenset[str]  # the modes that cannot work when it fails


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    found: str  # what was found, or the problem
    fix: str | None
    needed: bool  # by the chosen mode


class Machine:
    """What the checks look at, each found once: the config's settings, the Docker engine."""

    def __init__(self, config, mode: str):
        self.config = config
        self.mode = mode

    @cached_property
    def engine(self):
        try:
            return docker_engine.client()
        except HarnessError:
            raise HarnessError("needs the Docker engine, which is not reachable",
                               "see the Docker engine line") from None

    def settings(self, mode: str):
        return self.config.modes.for_mode(mode)


def python(_: Machine) -> str:  # pip refuses harness below 3.11 (requires-python)
    return f"Python {platform.python_version()} ({sys.executable})"


def _versions(names: tuple[str, ...]) -> str:
    found, missing = [], []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise HarnessError(f"not installed: {', '.join(missing)}",
                           f"pip install {' '.join(missing)} (installing harness brings them)")
    return ", ".join(found)


def ml_stack(_: Machine) -> str:
    return f"{_harness()}, {_versions(STACK)}"


def _harness() -> str:
    """harness's version, or where it runs from when it is a checkout on the path, not
    installed (the `tests` compose service mounts one)."""
    try:
        return f"harness {metadata.version('harness')}"
    except metadata.PackageNotFoundError:
        return f"harness (not installed: the checkout at {Path(__file__).resolve().parents[1]})"


def sagemaker_sdk(_: Machine) -> str:
    return _versions(SDK)


def gpu(_: Machine) -> str:
    import torch

    if torch.cuda.is_available():
        names = {torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())}
        return (f"CUDA {torch.version.cuda}: {torch.cuda.device_count()} x "
                f"{', '.join(sorted(names))}")
    if torch.backends.mps.is_available():
        return "Apple MPS"
    return "none: local training runs on the CPU"


def nvidia_runtime(machine: Machine) -> str:
    """SDK local mode asks compose for GPUs (a device request, as `docker run --gpus`): Docker
    serves it with the NVIDIA runtime registered, or with the toolkit's hook on its PATH."""
    runtimes = machine.engine.info().get("Runtimes") or {}
    if "nvidia" in runtimes:
        return "nvidia runtime registered with Docker"
    hook = shutil.which("nvidia-container-runtime-hook")
    if hook and not os.environ.get("DOCKER_HOST"):  # a local engine finds it on this PATH
        return f"NVIDIA Container Toolkit's hook at {hook}"
    raise HarnessError("instance_type local_gpu needs the NVIDIA container runtime; "
                       f"Docker has {', '.join(sorted(runtimes)) or 'none'}",
                       "install the NVIDIA Container Toolkit, then `sudo nvidia-ctk runtime "
                       "configure --runtime=docker` and restart Docker")


def architecture(_: Machine) -> str:
    arch = platform.machine()
    if arch.lower() in ("arm64", "aarch64"):
        return (f"{arch}: harness's image builds natively here (the Hugging Face DLCs "
                "SageMaker runs are amd64-only)")
    return arch


def docker(_: Machine) -> str:
    engine = docker_engine.client()
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return f"Docker {engine.version().get('Version', '?')} at {where}"


def compose_line(_: Machine) -> str:
    return compose.find().describe()


def localstack(machine: Machine) -> str:
    url = emulator.endpoint_url(None if os.environ.get(emulator.ENDPOINT_ENV) else machine.engine)
    emulator.require(url, within_s=3)
    return f"S3 at {url}"


def harness_image(machine: Machine) -> str:
    settings = machine.settings("sagemaker-local")
    gpu = image.needs_gpu(settings.instance_type, settings.inference_instance_type)
    wanted = settings.image_uri or image.default_image(gpu)
    if docker_engine.has_image(machine.engine, wanted):
        return f"{wanted} built"
    if settings.image_uri:
        raise HarnessError(f"Docker image {wanted} is missing",
                           "build it, or unset modes.sagemaker-local.image_uri to use "
                           f"harness's image ({image.BUILD_HINT})")
    others = [tag for found in machine.engine.images.list(image.REPOSITORY) for tag in found.tags]
    state = (f"stale ({', '.join(others)} built for another harness or other ML versions)"
             if others else "missing")
    raise HarnessError(f"Docker image {wanted} is {state}", image.build_hint(gpu))


def _free_gb(path: Path) -> float:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 1e9


def _room(path: Path, wanted_gb: float, where: str, fix: str) -> str:
    free = _free_gb(path)
    if free < wanted_gb:
        raise HarnessError(f"{free:.1f} GB free under {where} (wants {wanted_gb} GB)", fix)
    return f"{free:.0f} GB free under {path}"


def run_dir_disk(machine: Machine) -> str:
    path = machine.config.run_path.resolve()
    return _room(path, MIN_FREE_RUN_DIR_GB, str(path),
                 "free space there, or set run_dir to a folder on a disk with room")


def docker_disk(machine: Machine) -> str:
    root = Path(machine.engine.info().get("DockerRootDir", "/var/lib/docker"))
    if not root.exists():
        return f"{root} is not on this machine (a remote engine): not checked"
    return _room(root, MIN_FREE_DOCKER_GB, f"Docker's {root}",
                 "`docker system prune` removes stopped containers and unused images")


def aws_profile(_: Machine) -> str:
    session = aws.boto_session()
    return f"profile {session.profile_name!r}"


def aws_credentials(_: Machine) -> str:
    credentials = aws.boto_session().get_credentials()
    if credentials is None:
        raise HarnessError("no AWS credentials found", aws.CREDENTIALS_HINT)
    return f"credentials from {credentials.method}"


def aws_region(machine: Machine) -> str:
    return aws.require_region(machine.settings("sagemaker").region)


def aws_role(machine: Machine) -> str:
    role = machine.settings("sagemaker").role
    if not role:
        raise HarnessError("no IAM role set (modes.sagemaker.role); outside SageMaker "
                           "notebooks harness cannot find one", ROLE_HINT)
    return role


def checks(machine: Machine) -> list[Check]:
    """The checks for the chosen mode, in the order they are printed."""
    listed = [
        Check("python", python, ALL_MODES),
        Check("harness and ML stack", ml_stack, ALL_MODES),
        Check("SageMaker SDK", sagemaker_sdk, frozenset({"sagemaker-local", "sagemaker"})),
        Check("GPU", gpu, frozenset()),
        Check("CPU architecture", architecture, frozenset()),
        Check("run dir disk", run_dir_disk, ALL_MODES),
        Check("Docker engine", docker, EMULATED),
        Check("Docker Compose", compose_line, EMULATED),
        Check("LocalStack", localstack, EMULATED),
        Check("harness image", harness_image, EMULATED),
        Check("Docker disk", docker_disk, EMULATED),
    ]
    local = machine.settings("sagemaker-local")
    if image.needs_gpu(local.instance_type, local.inference_instance_type):
        listed.append(Check("NVIDIA container runtime", nvidia_runtime, EMULATED))
    if machine.mode == "sagemaker":
        sagemaker = frozenset({"sagemaker"})
        listed += [Check("AWS profile", aws_profile, sagemaker),
                   Check("AWS credentials", aws_credentials, sagemaker),
                   Check("AWS region", aws_region, sagemaker),
                   Check("IAM role", aws_role, sagemaker)]
    return listed


def run_check(check: Check, machine: Machine) -> Result:
    needed = machine.mode in check.needed_by
    try:
        return Result(check.name, True, check.run(machine), None, needed)
    except HarnessError as e:
        return Result(check.name, False, e.message, e.hint, needed)
    except Exception as e:  # noqa: BLE001 - a doctor reports what it finds, never a traceback
        first = (str(e).strip().splitlines() or [""])[0]
        return Result(check.name, False, f"{type(e).__name__}: {first}",
                      "unexpected: please report this line to harness's maintainers", needed)


def require(machine: Machine) -> None:
    """Raise the first failing check the chosen mode needs (a step's preflight)."""
    for check in checks(machine):
        if machine.mode in check.needed_by:
            check.run(machine)
