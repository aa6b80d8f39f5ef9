"""harness as users' machines have it, each check a script of its own (run here, so the test
command covers them): the wheel installed outside the checkout, the oldest versions the
dependency ranges allow, and SageMaker SDK v2 in a virtualenv of its own (the default
environment has v3)."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness.pytest_plugin import require_docker
from tests.support import REPO

CHECKS = {  # script: (environment, the line it ends with when everything passed)
    "wheel-check.sh": ({}, "wheel check passed"),
    "oldest-check.sh": ({"SAGEMAKER_LOCAL": "1"}, "oldest check passed"),
    "sdk-v2-check.sh": ({}, "passed"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("script", CHECKS)
def test_installed(script):
    require_docker()
    env, done = CHECKS[script]
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], cwd=REPO,
                            env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=1800, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert done in result.stdout.strip().splitlines()[-1], output[-3000:]
