"""Compose, found once: the `docker compose` plugin (v2 to v5) or the docker-compose binary, used
by harness's LocalStack commands and by SDK local mode. Each case is a PATH made for it."""

import importlib
import subprocess
import sys

import pytest

from harness import sdk
from harness.containers import compose
from harness.errors import HarnessError
from tests.support.cli import harness
from tests.support.path_shims import NO_COMPOSE_PLUGIN, REAL_COMPOSE, compose_plugin, path_without

needs_compose = pytest.mark.skipif(REAL_COMPOSE is None, reason="no docker-compose binary")


@pytest.fixture
def plugin_v5(tmp_path, monkeypatch):
    """Only a Compose plugin that reports v5.0.0 (a shim around docker-compose) on PATH;
    returns the log of the `docker` calls."""
    log = tmp_path / "docker-calls.log"
    monkeypatch.setenv("PATH", path_without(
        tmp_path / "bin", "docker", "docker-compose",
        scripts={"docker": compose_plugin("v5.0.0", log)}))
    return log


@pytest.fixture
def no_compose(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_without(tmp_path / "bin", "docker", "docker-compose",
                                            scripts={"docker": NO_COMPOSE_PLUGIN}))


@needs_compose
def test_the_plugin_is_found_at_v5(plugin_v5):
    found = compose.find()
    assert found.command == ("docker", "compose")
    assert (found.version, found.major) == ("5.0.0", 5)


@needs_compose
def test_the_binary_is_found_without_a_plugin(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_without(tmp_path / "bin", "docker",
                                            scripts={"docker": NO_COMPOSE_PLUGIN}))
    found = compose.find()
    assert found.command == ("docker-compose",)
    assert found.major == 1


def test_no_compose_is_an_error_that_says_how_to_install_it(no_compose):
    with pytest.raises(HarnessError) as raised:
        compose.find()
    assert "Docker Compose is not installed" in raised.value.message
    assert "docker-compose-plugin" in raised.value.hint


@needs_compose
def test_sdk_local_mode_takes_the_v5_plugin(plugin_v5):
    """SDK 2.257's own detection wants "v2" in the version text: v5 reads as not installed (v3's
    reads it). After harness's patch either major runs the plugin, with a new list per
    container (it extends it)."""
    module = {2: "sagemaker.local.image", 3: "sagemaker.core.local.image"}[sdk.major()]
    sdk_image = importlib.import_module(module)
    compose_found = importlib.import_module(f"harness.sdk.patches_v{sdk.major()}").compose_found
    # The SDK's own detection, in a process of its own: this one may have been patched already.
    own = subprocess.run([sys.executable, "-c", f"from {module} import _SageMakerContainer as c; "
                          "print(c._get_compose_cmd_prefix())"],
                         capture_output=True, text=True, check=False)
    if sdk.major() == 2:
        assert own.returncode == 1, own.stdout[-2000:]
        assert "Docker Compose is not installed" in own.stdout + own.stderr
    else:
        assert own.stdout.splitlines()[-1] == "['docker', 'compose']", own.stderr[-2000:]

    detect = sdk_image._SageMakerContainer._get_compose_cmd_prefix
    try:
        compose_found()
        first = sdk_image._SageMakerContainer._get_compose_cmd_prefix()
        first.append("-f")
        assert sdk_image._SageMakerContainer._get_compose_cmd_prefix() == ["docker", "compose"]
    finally:
        sdk_image._SageMakerContainer._get_compose_cmd_prefix = detect


@pytest.mark.e2e
@needs_compose
def test_sagemaker_local_trains_with_only_a_v5_plugin(tiny_job, plugin_v5, sagemaker_local_stack):
    harness("prepare", "-c", str(tiny_job), "--mode", "sagemaker-local",
            "--set", "s3.prefix=compose-v5")
    harness("train", "-c", str(tiny_job), "--mode", "sagemaker-local",
            "--set", "s3.prefix=compose-v5")
    calls = plugin_v5.read_text().splitlines()
    assert any(call.startswith("compose -f ") and " up " in f"{call} " for call in calls), calls
    assert "model.tar.gz" in (tiny_job.parent / "run" / "state.json").read_text()


@pytest.mark.e2e
def test_sagemaker_local_without_compose_stops_with_one_screen(tiny_job, no_compose,
                                                              sagemaker_local_stack):
    harness("prepare", "-c", str(tiny_job), "--mode", "sagemaker-local",
            "--set", "s3.prefix=no-compose")
    result = harness("train", "-c", str(tiny_job), "--mode", "sagemaker-local",
                     "--set", "s3.prefix=no-compose", check=False)
    assert result.returncode == 1
    assert "error: Docker Compose is not installed" in result.stderr
    assert "fix: install Docker Compose" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3
