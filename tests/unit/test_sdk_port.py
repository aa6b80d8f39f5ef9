"""The SDK port: which SageMaker SDK releases harness runs on, and that harness imports the SDK
only when a step needs it (so that either major can be installed)."""

import importlib
import subprocess
import sys
from types import SimpleNamespace

import pytest

from harness import sdk
from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.pytest_plugin import require_docker


@pytest.mark.parametrize("version, expected", [
    ("2.257.7", True), ("2.257.0", True), ("3.27.0", True), ("3.40.1", True),
    ("2.256.9", False), ("2.258.0", False), ("3.26.0", False), ("4.0.0", False), ("1.9", False)])
def test_supported_releases(version, expected):
    assert sdk.supported(version) is expected


def test_pyprojects_range_admits_the_supported_releases_only():
    """pip never installs a release harness refuses at run time, and a fresh install gets v3."""
    import tomllib

    from packaging.requirements import Requirement

    from tests.support.runs import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (requirement,) = [Requirement(r) for r in project["dependencies"]
                      if Requirement(r).name == "sagemaker"]
    versions = ["2.256.1", "2.257.0", "2.257.7", "3.0", "3.0.1", "3.22.1", "3.26.0", "3.27.0",
                "3.40.1", "4.0.0"]
    assert [requirement.specifier.contains(v) for v in versions] == [
        sdk.supported(v) for v in versions]
    assert max(requirement.specifier.filter(versions)) == "3.40.1"


def test_an_unsupported_release_names_the_supported_ranges(monkeypatch):
    monkeypatch.setattr(sdk.metadata, "version", lambda name: "4.1.0")
    sdk.major.cache_clear()
    try:
        with pytest.raises(HarnessError) as error:
            sdk.major()
    finally:
        monkeypatch.undo()
        sdk.major.cache_clear()
    assert ("sagemaker 4.1.0 is installed; harness runs on sagemaker 2.257.x or >=3.27,<4"
            in error.value.message)
    assert "pip install 'sagemaker>=3.27,<4'" in error.value.hint


def test_harness_imports_without_the_sdk():
    code = ("import sys, harness.cli, harness.api, harness.pytest_plugin, harness.modes.sagemaker, "
            "harness.modes.sagemaker_local, harness.sdk; "
            "print(sorted(m for m in sys.modules if m == 'sagemaker' or m.startswith('sagemaker.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_adapter_is_the_installed_major():
    assert sdk.adapter().MAJOR == sdk.major() == int(sdk.metadata.version("sagemaker")[0])


def test_local_modes_compose_service_is_changed_once_whatever_the_order(tmp_path):
    """A session (host route) opened while another one's endpoint binding is in force, then
    closed: the serving service SDK local mode writes has the route once, and the bound port
    only while the binding holds (a duplicate extra_hosts entry fails docker-compose)."""
    require_docker()  # the host route asks the engine
    patches = importlib.import_module(f"harness.sdk.patches_v{sdk.major()}")
    sdk_image = importlib.import_module("sagemaker.local.image" if sdk.major() == 2
                                        else "sagemaker.core.local.image")
    container = sdk_image._SageMakerContainer(
        "local", 1, "harness-train:x",
        sagemaker_session=SimpleNamespace(config={"local": {"serving_port": 8123}}))
    container.container_root = str(tmp_path)
    original = sdk_image._SageMakerContainer._create_docker_host

    def served() -> dict:
        return container._create_docker_host("algo-1", [], set(), "serve", [])

    try:
        patches.containers_reach_host()
        with patches.serving_port_bound("127.0.0.1"):
            patches.containers_reach_host()
            bound = served()
        unbound = served()
    finally:
        sdk_image._SageMakerContainer._create_docker_host = original
    extra_hosts = list(docker_engine.host_route(docker_engine.client()).extra_hosts)
    assert (bound["ports"], bound.get("extra_hosts", [])) == (["127.0.0.1:8123:8080"], extra_hosts)
    assert (unbound["ports"], unbound.get("extra_hosts", [])) == (["8123:8080"], extra_hosts)


# The newest Hugging Face DLCs in each major's image-URI tables: (transformers, torch, python).
NEWEST_DLCS = {2: {"training": ("4.56.2", "2.8.0", "py312"),
                   "inference": ("4.51.3", "2.6.0", "py312")},
               3: {"training": ("5.3.0", "2.9.0", "py312"),
                   "inference": ("5.5.3", "2.6.0", "py312")}}


@pytest.mark.parametrize("scope", ["training", "inference"])
def test_the_default_dlcs_are_the_newest_in_the_installed_sdks_tables(scope):
    from harness.modes.sagemaker.mode import newest_dlc

    newest = newest_dlc(scope)
    assert ((newest.transformers_version, newest.pytorch_version, newest.py_version)
            == NEWEST_DLCS[sdk.major()][scope])


def test_promote_of_the_default_config_names_the_newest_dlcs(tmp_path):
    """Under v3 the default config (transformers 5.x locally) promotes without a major change;
    v2's tables stop at 4.x."""
    from tests.support.cli import harness
    from tests.support.runs import write_config

    result = harness("promote", "-c", str(write_config(tmp_path)),
                     env={"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                          "AWS_CONFIG_FILE": "/nonexistent"})
    newest = NEWEST_DLCS[sdk.major()]
    for scope in ("training", "inference"):
        transformers, torch, _ = newest[scope]
        assert f"transformers{transformers}-gpu-py312" in result.stdout
        assert f"{'huggingface-pytorch-' + scope}:{torch}-" in result.stdout
    assert ("major version change" in result.stdout) is (sdk.major() == 2)
