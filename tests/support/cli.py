"""The one place the tests run the `harness` CLI from: in this process, as its own process,
without AWS configuration, and an inner pytest run with the plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

from tests.support import REPO


def harness(*args: str, check: bool = True,
            env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in this process (click's CliRunner): the same code path
    without a Python start-up per call. `env` sets (None: unsets) variables for the call; the
    process environment is restored afterwards. Tests of signals and process groups run
    `harness_process` instead. An exception the CLI lets through is printed to stderr with
    its traceback, as Python would."""
    from click.testing import CliRunner

    from harness.cli import main

    saved = dict(os.environ)
    try:
        result = CliRunner().invoke(main, list(args), env=env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    if result.exit_code == 130:  # Ctrl-C reached this process, so pytest itself: stop the run
        raise KeyboardInterrupt
    ran = subprocess.CompletedProcess(["harness", *args], result.exit_code, result.stdout, stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"harness {' '.join(args)} exited {ran.returncode}:\n"
                             f"{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    return ran


def harness_process(*args: str, **popen) -> subprocess.Popen:
    """The CLI as its own process, for tests that signal it or kill it."""
    return subprocess.Popen([sys.executable, "-m", "harness", *args], **popen)


def without_aws(*args, **env):
    """The CLI with no AWS credentials or configuration anywhere, and no terminal."""
    unset = {key: None for key in os.environ if key.startswith("AWS_")}
    return harness(*args, check=False, env={**unset, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                                            "AWS_CONFIG_FILE": "/nonexistent", **env})


def harness_started(*args):
    return harness_process(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def inner_pytest(folder: Path, test_code: str, *args: str, **popen) -> subprocess.Popen:
    """`python -m pytest` on one test file in `folder`, with the plugin from this checkout."""
    (folder / "test_user.py").write_text(test_code)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin",
                             "-p", "no:cacheprovider", "-q", *args, str(folder / "test_user.py")],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


def run_inner(folder: Path, test_code: str, *args: str) -> tuple[int, str]:
    proc = inner_pytest(folder, test_code, *args)
    output, _ = proc.communicate(timeout=300)
    return proc.returncode, output


def harness_subprocess(*args: str, env: dict[str, str | None] | None = None,
                       timeout_s: float = 120) -> subprocess.CompletedProcess:
    """The CLI as its own process, run to its end from the checkout: for what only a fresh
    process shows (its start-up, its own signal handling). `env` as for `harness`."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout_s, check=False,
                          env={k: v for k, v in merged.items() if v is not None})
