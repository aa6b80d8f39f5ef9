"""harness's image follows the ML stack installed here: its requirements pin this machine's
versions, torch without its build label (with its CUDA label for `local_gpu`), and the tag
changes with them. Other environments are made by putting distributions' metadata first on
the path, as another install would."""

import json
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

from harness.containers import image
from harness.errors import HarnessError
from harness.project import ROOT
from tests.support.path_shims import path_without

REPORT = """
import json
from harness.containers import image
from harness.errors import HarnessError
report = {"image": image.default_image(), "requirements": image.requirements()}
try:
    report["gpu"] = {"image": image.default_image(gpu=True),
                     "requirements": image.requirements(gpu=True),
                     "build": image.build_environment(gpu=True)}
except HarnessError as e:
    report["gpu"] = {"error": e.message, "fix": e.hint}
print(json.dumps(report))
"""


def in_environment(tmp_path, versions: dict[str, str]) -> dict:
    """default_image() and requirements() where `versions` are installed over this Python's,
    and the same for `local_gpu` (or its error)."""
    site = tmp_path / "site"
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    result = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r})"
                             f"\n{REPORT}"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def pins(requirements: str) -> dict[str, str]:
    return dict(line.split("==", 1) for line in requirements.splitlines()
                if "==" in line and not line.startswith("#"))


def test_the_image_pins_the_versions_installed_here():
    pinned = pins(image.requirements())
    for name in image.HOST_PACKAGES:
        assert pinned[name] == metadata.version(name).split("+")[0], name
    assert pinned["sagemaker-pytorch-training"] == "3.0.0"  # not the host's: requirements.txt's
    torch, transformers = pinned["torch"], pinned["transformers"]
    assert image.default_image().startswith(
        f"harness-train:torch{torch}-cpu-transformers{transformers}-")


def test_another_environment_is_another_image(tmp_path):
    here = in_environment(tmp_path / "same", {})
    assert here["image"] == image.default_image()

    older = in_environment(tmp_path / "older", {"transformers": "5.0.0", "datasets": "5.0.0"})
    assert pins(older["requirements"])["transformers"] == "5.0.0"
    assert pins(older["requirements"])["datasets"] == "5.0.0"
    assert "-transformers5.0.0-" in older["image"] and older["image"] != here["image"]

    torch = metadata.version("torch").split("+")[0]
    cuda = in_environment(tmp_path / "cuda", {"torch": f"{torch}+cu128"})
    assert pins(cuda["requirements"])["torch"] == torch  # the CPU build of the same release
    assert cuda["image"] == here["image"]


def test_local_gpu_takes_the_cuda_build_of_the_torch_here(tmp_path):
    torch = metadata.version("torch").split("+")[0]
    cuda = in_environment(tmp_path, {"torch": f"{torch}+cu128"})["gpu"]
    assert pins(cuda["requirements"])["torch"] == f"{torch}+cu128"
    assert cuda["image"].startswith(f"harness-train:torch{torch}-cu128-transformers")
    assert cuda["build"] == {"TORCH_BUILD": "cu128",
                             "TORCH_INDEX": "https://download.pytorch.org/whl/cu128"}
    assert image.build_environment(gpu=False) == {
        "TORCH_BUILD": "cpu", "TORCH_INDEX": "https://download.pytorch.org/whl/cpu"}
    assert image.needs_gpu("local", "local_gpu") and not image.needs_gpu("local", "local")


def test_local_gpu_on_a_host_without_cuda_torch_says_what_to_install(tmp_path):
    """A CPU torch names no CUDA version for the image to match (harness does not guess one):
    the error says how to get a CUDA torch, or to bring an image."""
    import torch

    if torch.version.cuda:
        pytest.skip("torch here is a CUDA build")
    cpu = in_environment(tmp_path, {})["gpu"]
    assert "is not a CUDA build" in cpu["error"]
    assert "--index-url https://download.pytorch.org/whl/cu128" in cpu["fix"]
    assert "image_uri" in cpu["fix"]
    rocm = in_environment(tmp_path / "rocm", {"torch": "2.13.0+rocm6.4"})["gpu"]
    assert "torch 2.13.0+rocm6.4 here is not a CUDA build" in rocm["error"]
    with pytest.raises(HarnessError, match="local_gpu"):
        image.torch_build(gpu=True)


def build_sh(tmp_path, requirements: str, build: dict[str, str], wheels: list[str]):
    """container/build.sh run on a copy of the context with `requirements`, a WHEEL_DIR of
    empty stand-ins named `wheels`, and a `docker` that records what it is asked: (its log,
    the wheelhouse's files, stderr)."""
    shutil.copytree(ROOT / "container", tmp_path / "container",
                    ignore=shutil.ignore_patterns("*.whl", "certs"))
    (tmp_path / "container" / "requirements.txt").write_text(requirements)
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    for name in wheels:
        (wheel_dir / name).write_bytes(b"stand-in")
    log = tmp_path / "docker.log"
    docker = f'echo "$*" >> {log}\n[ "$1" = image ] && echo 2450000000\nexit 0'
    path = path_without(tmp_path / "bin", "docker", scripts={"docker": docker})
    result = subprocess.run(
        ["bash", str(tmp_path / "container" / "build.sh"), "the-tag"], capture_output=True,
        text=True, check=True, env={"PATH": path, "BASE_IMAGE": "harness-base:bookworm",
                                    "WHEEL_DIR": str(wheel_dir),
                                    "HOST_CA_BUNDLE": str(tmp_path / "none"), **build})
    wheelhouse = sorted(p.name for p in (tmp_path / "container" / "wheelhouse").glob("*.whl"))
    return log.read_text(), wheelhouse, result.stderr


def test_the_cuda_build_plan_reaches_docker_build(tmp_path):
    """The CUDA image's build: torch from PyTorch's cu128 index (no CPU wheel from the
    wheelhouse), on the same offline base; the CPU image takes the local CPU wheel."""
    torch = metadata.version("torch").split("+")[0]
    cuda = in_environment(tmp_path / "env", {"torch": f"{torch}+cu128"})["gpu"]
    cpu_wheel = f"torch-{torch}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    log, wheelhouse, stderr = build_sh(tmp_path / "cuda", cuda["requirements"], cuda["build"],
                                       [cpu_wheel])
    assert wheelhouse == []
    assert "pip will download it from https://download.pytorch.org/whl/cu128" in stderr
    assert ("build --build-arg BASE_IMAGE=harness-base:bookworm --build-arg "
            "TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t harness-train:the-tag "
            "-f container/Dockerfile .") in log

    log, wheelhouse, _ = build_sh(tmp_path / "cpu", image.requirements(),
                                  image.build_environment(gpu=False), [cpu_wheel])
    assert wheelhouse == [cpu_wheel]
    assert "--build-arg TORCH_INDEX= -t harness-train:the-tag" in log
