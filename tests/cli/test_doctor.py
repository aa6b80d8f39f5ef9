"""`harness doctor`: each ✘ line is made by changing the environment (PATH, DOCKER_HOST, AWS
variables, an S3 endpoint where nothing listens, a Python without a package, a nearly full
file system, an install of other versions), never by changing harness. Lines that cannot fail:
python (pip refuses harness below 3.11), GPU and CPU architecture (information)."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from harness.host.endpoint_process import free_port
from harness.pytest_plugin import require_docker
from tests.support import REPO
from tests.support.cli import harness
from tests.support.path_shims import NO_COMPOSE_PLUGIN, path_without
from tests.support.runs import write_config
from tests.support.small_disk import docker_stand_in, small_tmpfs


def doctor(*args: str, env: dict | None = None) -> tuple[int, dict[str, str]]:
    """The exit status and each line by check name; every line is one check, ✔ or ✘."""
    result = harness("doctor", *args, check=False, env=env)
    return result.returncode, lines_of(result)


def lines_of(result) -> dict[str, str]:
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert lines and all(line[:2] in ("✔ ", "✘ ") for line in lines), result.stdout
    return {line[2:].split(":", 1)[0]: line for line in lines}


def test_a_ready_machine_passes_local_mode():
    status, lines = doctor("--mode", "local")
    assert status == 0
    assert lines["python"].startswith("✔ python: Python 3.")
    assert "torch " in lines["harness and ML stack"] and "transformers " in lines[
        "harness and ML stack"]


def test_docker_down_fails_sagemaker_local_but_not_local(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    status, lines = doctor("--mode", "sagemaker-local", env=env)
    assert status == 1
    assert lines["Docker engine"].startswith("✘ Docker engine: Docker is not running or not "
                                             f"reachable at unix://{tmp_path}/no-docker.sock")
    assert "fix: start the Docker engine" in lines["Docker engine"]
    assert lines["harness image"].startswith("✘") and "see the Docker engine line" in lines[
        "harness image"]
    status, lines = doctor("--mode", "local", env=env)
    assert status == 0 and "[not needed by this mode]" in lines["Docker engine"]


def test_no_compose_says_how_to_install_it(tmp_path):
    path = path_without(tmp_path / "bin", "docker", "docker-compose",
                        scripts={"docker": NO_COMPOSE_PLUGIN})
    status, lines = doctor("--mode", "sagemaker-local", env={"PATH": path})
    assert status == 1
    assert lines["Docker Compose"].startswith("✘ Docker Compose: Docker Compose is not installed")
    assert "fix: install Docker Compose" in lines["Docker Compose"]


def test_localstack_not_answering_says_how_to_start_it():
    env = {"HARNESS_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    status, lines = doctor("--mode", "sagemaker-local", env=env)
    assert status == 1
    assert lines["LocalStack"].startswith("✘ LocalStack: LocalStack S3 is not reachable at "
                                          "http://127.0.0.1:")
    assert "harness emulator up" in lines["LocalStack"]


def test_a_missing_image_says_how_to_build_it(tmp_path):
    require_docker()
    config = write_config(tmp_path, modes={"sagemaker-local": {
        "image_uri": "harness-train:no-such-tag"}})
    status, lines = doctor("-c", str(config), "--mode", "sagemaker-local")
    assert status == 1
    assert "✘ harness image: Docker image harness-train:no-such-tag is missing" in lines[
        "harness image"]
    assert "harness image build" in lines["harness image"]


def test_local_gpu_needs_the_nvidia_runtime(tmp_path):
    require_docker()
    from harness.containers import docker_engine

    if "nvidia" in (docker_engine.client().info().get("Runtimes") or {}):
        pytest.skip("this engine has the NVIDIA runtime")
    config = write_config(tmp_path, modes={"sagemaker-local": {"instance_type": "local_gpu"}})
    status, lines = doctor("-c", str(config), "--mode", "sagemaker-local")
    assert status == 1
    assert "NVIDIA Container Toolkit" in lines["NVIDIA container runtime"]

    # The toolkit's hook on the engine's PATH serves GPU requests without a registered runtime.
    hook = "echo stand-in"
    path = path_without(tmp_path / "bin", scripts={"nvidia-container-runtime-hook": hook})
    _, lines = doctor("-c", str(config), "--mode", "sagemaker-local", env={"PATH": path})
    assert lines["NVIDIA container runtime"] == (
        f"✔ NVIDIA container runtime: NVIDIA Container Toolkit's hook at {tmp_path}/bin/"
        "nvidia-container-runtime-hook")


def test_local_gpu_with_a_cpu_torch_says_how_to_get_the_cuda_image(tmp_path):
    """An endpoint on local_gpu needs the CUDA image too; a CPU torch here names no CUDA
    version for it (tests/unit/test_image.py covers a CUDA torch)."""
    import torch

    if torch.version.cuda:
        pytest.skip("torch here is a CUDA build")
    config = write_config(tmp_path, modes={"sagemaker-local": {
        "inference_instance_type": "local_gpu"}})
    status, lines = doctor("-c", str(config), "--mode", "sagemaker-local")
    assert status == 1
    assert "is not a CUDA build" in lines["harness image"]
    assert "fix: install torch's CUDA build here" in lines["harness image"]
    assert "NVIDIA container runtime" in lines


@pytest.fixture
def no_aws(tmp_path):
    """An environment with no AWS profile, credentials or region: empty AWS files."""
    (tmp_path / "aws-config").write_text("")
    (tmp_path / "aws-credentials").write_text("")
    return {"AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
            **dict.fromkeys(("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                             "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                             "AWS_DEFAULT_REGION"))}


def test_sagemaker_without_credentials_region_or_role(no_aws):
    status, lines = doctor("--mode", "sagemaker", env=no_aws)
    assert status == 1
    assert lines["AWS credentials"].startswith("✘ AWS credentials: no AWS credentials found")
    assert "aws configure" in lines["AWS credentials"]
    assert lines["AWS region"].startswith("✘ AWS region: no AWS region for SageMaker")
    assert lines["IAM role"].startswith("✘ IAM role: no IAM role set")
    assert "modes.sagemaker.role" in lines["IAM role"]


def test_sagemaker_with_a_profile_that_does_not_exist(no_aws):
    status, lines = doctor("--mode", "sagemaker", env={**no_aws, "AWS_PROFILE": "no-such"})
    assert status == 1
    assert lines["AWS profile"].startswith("✘ AWS profile: AWS profile 'no-such'")
    assert "aws configure --profile no-such" in lines["AWS profile"]


def test_sagemaker_ready_passes(tmp_path, no_aws):
    config = write_config(tmp_path, modes={"sagemaker": {
        "role": "arn:aws:iam::123456789012:role/SageMakerExecutionRole"}})
    env = {**no_aws, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_REGION": "eu-west-1"}
    status, lines = doctor("-c", str(config), "--mode", "sagemaker", env=env)
    assert [name for name, line in lines.items() if line.startswith("✘")
            and "not needed" not in line] == []
    assert status == 0
    assert lines["AWS region"] == "✔ AWS region: eu-west-1"


def python_without(folder: Path, *hidden: str) -> dict[str, str]:
    """The environment of a Python where `hidden` (distribution names) are not installed: this
    one's site-packages as a folder of links, less theirs, run with -S (no site-packages)."""
    site = Path(sysconfig.get_paths()["purelib"])
    prefixes = tuple(name.replace("-", "_").lower() for name in hidden)
    folder.mkdir()
    for entry in site.iterdir():
        stem = entry.name.lower().split("-", 1)[0]  # accelerate, accelerate-1.15.0.dist-info
        if stem in prefixes or entry.suffix == ".pth":
            continue
        (folder / entry.name).symlink_to(entry)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(folder)])}


def test_a_python_without_the_stack_or_the_sdk_says_what_to_install(tmp_path):
    env = python_without(tmp_path / "site", "accelerate", "sagemaker")
    result = subprocess.run([sys.executable, "-S", "-m", "harness", "doctor", "--mode", "local"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    lines = lines_of(result)
    assert result.returncode == 1
    assert lines["harness and ML stack"] == (
        "✘ harness and ML stack: not installed: accelerate (fix: pip install accelerate "
        "(installing harness brings them))")
    assert lines["SageMaker SDK"].startswith("✘ SageMaker SDK: not installed: sagemaker (fix: "
                                             "pip install sagemaker")
    assert lines["SageMaker SDK"].endswith("[not needed by this mode]")
    # harness's image takes this machine's versions: it names the missing one too
    assert lines["harness image"].startswith("✘ harness image: harness's image takes this "
                                             "machine's versions of")
    assert "not installed: accelerate (fix: pip install accelerate" in lines["harness image"]


def test_a_full_run_dir_says_where_and_how_to_free_it(tmp_path):
    with small_tmpfs(tmp_path / "small") as small:
        config = write_config(tmp_path, run_dir=str(small / "run"))
        status, lines = doctor("-c", str(config), "--mode", "local")
    assert status == 1
    assert lines["run dir disk"] == (
        f"✘ run dir disk: 0.0 GB free under {small / 'run'} (wants 2 GB) (fix: free space there, "
        "or set run_dir to a folder on a disk with room)")


def test_a_full_docker_root_says_how_to_prune(tmp_path):
    """The engine is a stand-in answering `docker info` with its root on a nearly full tmpfs
    (a second dockerd would take the host's docker0 down); the free space is measured."""
    with small_tmpfs(tmp_path / "docker-root") as root, \
            docker_stand_in(tmp_path / "docker.sock", {"DockerRootDir": str(root)}) as host:
        status, lines = doctor("--mode", "sagemaker-local", env={"DOCKER_HOST": host})
        assert lines["Docker engine"] == f"✔ Docker engine: Docker stand-in at {host}"
        assert lines["Docker disk"] == (
            f"✘ Docker disk: 0.0 GB free under Docker's {root} (wants 10 GB) (fix: `docker "
            "system prune` removes stopped containers and unused images)")
    assert status == 1


def test_a_remote_engine_s_disk_is_not_checked(tmp_path):
    elsewhere = "/var/lib/docker-on-another-machine"
    with docker_stand_in(tmp_path / "docker.sock", {"DockerRootDir": elsewhere}) as host:
        _, lines = doctor("--mode", "sagemaker-local", env={"DOCKER_HOST": host})
    assert lines["Docker disk"] == (f"✔ Docker disk: {elsewhere} is not on this machine (a remote "
                                    "engine): not checked")


def test_an_image_built_for_other_versions_is_stale(tmp_path, monkeypatch):
    """Another transformers installed over this one (its metadata first on the path) wants an
    image no one built; the ones built are named."""
    require_docker()
    from harness.containers import docker_engine

    engine = docker_engine.client()
    built = [tag for found in engine.images.list("harness-train") for tag in found.tags]
    if not built:
        pytest.skip("no harness-train image built on this engine")
    info = tmp_path / "site" / "transformers-5.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 5.0.1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    status, lines = doctor("--mode", "sagemaker-local")
    assert status == 1
    line = lines["harness image"]
    assert line.startswith("✘ harness image: Docker image harness-train:torch")
    assert "-transformers5.0.1-" in line and " is stale (" in line
    assert built[0] in line and "(fix: build it with `harness image build`" in line
