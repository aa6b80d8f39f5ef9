"""The SDK port: which SageMaker SDK releases harness runs on, and that harness imports the SDK
only when a step needs it (so that either major can be installed)."""

import subprocess
import sys

import pytest

from harness import sdk
from harness.errors import HarnessError


@pytest.mark.parametrize("version, expected", [
    ("2.257.7", True), ("2.257.0", True), ("3.27.0", True), ("3.40.1", True),
    ("2.256.9", False), ("2.258.0", False), ("3.26.0", False), ("4.0.0", False), ("1.9", False)])
def test_supported_releases(version, expected):
    assert sdk.supported(version) is expected


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
