"""examples/ci/: both templates parsed, and their commands run here, in order, as the CI would
run them, on a copy of the example project, so that they cannot rot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.pytest_plugin import require_docker
from tests.support.runs import REPO

TEMPLATES = REPO / "examples" / "ci"
EXAMPLE = REPO / "examples" / "linear-regression"
ONE_COMMAND = "docker compose -f .harness/docker-compose.yml run --rm tests"


def github() -> tuple[dict, list[dict]]:
    workflow = yaml.safe_load((TEMPLATES / "github-actions.yml").read_text())
    (job,) = workflow["jobs"].values()
    return workflow["env"], job["steps"]


def gitlab() -> dict:
    return yaml.safe_load((TEMPLATES / "gitlab-ci.yml").read_text())["integration"]


def test_templates_run_the_one_command_and_cache_images_and_pip():
    env, steps = github()
    runs = [step["run"] for step in steps if "run" in step]
    assert runs[1] == ONE_COMMAND
    cache = next(step for step in steps if step.get("uses", "").startswith("actions/cache"))
    for folder in ("HARNESS_CACHE_DIR", "HARNESS_IMAGE_CACHE"):  # pip/HF caches, the images
        assert env[folder].startswith("${{ github.workspace }}/" + cache["with"]["path"] + "/")
    assert "load" in runs[0] and "save" in runs[2] and steps[-1]["if"] == "always()"

    job = gitlab()
    assert job["script"] == [ONE_COMMAND]
    for folder in ("HARNESS_CACHE_DIR", "HARNESS_IMAGE_CACHE"):
        assert job["variables"][folder].startswith("$CI_PROJECT_DIR/" + job["cache"]["paths"][0])
    assert "load" in job["before_script"][-1] and "save" in job["after_script"][0]


def github_expression(text: str, workspace: Path, env: dict) -> str:
    """The few `${{ }}` expressions the template's `env` and `run` lines use."""
    def value(match: re.Match) -> str:
        expression = match.group(1).strip()
        if expression == "github.workspace":
            return str(workspace)
        if expression.startswith("env."):
            return env[expression[4:]]
        raise AssertionError(f"the test does not know ${{{{ {expression} }}}}")
    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def shell(command: str, cwd: Path, env: dict) -> None:
    result = subprocess.run(["sh", "-ec", command], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1500)
    assert result.returncode == 0, f"{command}\n{result.stdout[-6000:]}"
    return result.stdout


def tools(folder: Path) -> Path:
    """Stand-ins on PATH for what this machine lacks: `docker compose` (Compose v2) as
    docker-compose v1, and Alpine's `apk`, which here only checks the tools are there."""
    folder.mkdir()
    real = shutil.which("docker")
    if subprocess.run([real, "compose", "version"], capture_output=True).returncode != 0:
        (folder / "docker").write_text(
            f'#!/bin/sh\nif [ "$1" = compose ]; then shift; exec docker-compose "$@"; fi\n'
            f'exec {real} "$@"\n')
    (folder / "apk").write_text(
        '#!/bin/sh\n[ "$1" = add ] || exit 1\nshift\nfor tool in "$@"; do case "$tool" in -*) ;;'
        ' *) command -v "$tool" >/dev/null || { echo "apk: no $tool here" >&2; exit 1; };; '
        'esac; done\n')
    for tool in folder.iterdir():
        tool.chmod(0o755)
    return folder


def workspace(folder: Path) -> Path:
    """The user's project, as a CI runner checks it out: the example project."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return folder


def checkout_harness(destination: Path) -> None:
    """actions/checkout of harness: this checkout's tracked files as they are now."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)


@pytest.fixture
def ci_cache(tmp_path):
    """What the CI's cache carries from one run to the next; the saved images (about 5 GB)
    are removed after the test."""
    folder = tmp_path / "cache"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def project_with_cache(folder: Path, cache: Path) -> Path:
    """The example project checked out, and the cache restored into `.ci-cache`."""
    project = workspace(folder)
    (project / ".ci-cache").symlink_to(cache)
    return project


@pytest.mark.e2e
def test_both_templates_run_here(tmp_path, ci_cache):
    """GitHub's steps on a cold cache (the images are saved), then GitLab's on the cache
    GitHub's left (the images are loaded). Both run the example project's tests in the
    `tests` service: 4 passed."""
    require_docker()
    # Where no registry answers, the image must exist before: built as scripts/install.sh does.
    subprocess.run(["bash", str(REPO / "scripts" / "tests-image.sh")], check=True)
    path = f"{tools(tmp_path / 'bin')}:{os.environ['PATH']}"

    env, steps = github()
    project = project_with_cache(tmp_path / "github", ci_cache)
    checkout_harness(project / ".harness")
    environ = {**os.environ, "PATH": path, "PWD": str(project)}
    environ.update({key: github_expression(str(value), project, environ)
                    for key, value in env.items()})
    outputs = [shell(github_expression(step["run"], project, environ), project, environ)
               for step in steps if "run" in step]
    assert "no " in outputs[0] and "images.tar yet" in outputs[0]
    assert "4 passed" in outputs[1]
    assert "ci-images: saved" in outputs[2]

    job = gitlab()
    project = project_with_cache(tmp_path / "gitlab", ci_cache)
    environ = {**os.environ, "PATH": path, "PWD": str(project), "CI_PROJECT_DIR": str(project)}
    for key, value in job["variables"].items():
        environ[key] = re.sub(r"\$(\w+)", lambda m: environ[m.group(1)], str(value))
    environ["HARNESS_REPO"] = str(REPO)  # a project variable: this checkout stands for yours
    outputs = [shell(line, project, environ)
               for line in job["before_script"] + job["script"] + job["after_script"]]
    assert "Loaded image" in outputs[2]
    assert "4 passed" in outputs[3]
    assert "images unchanged" in outputs[4]
