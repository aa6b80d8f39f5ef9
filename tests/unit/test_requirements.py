"""requirements.txt in local mode: checked against this environment, installed only on request."""

import pytest

from harness import requirements
from harness.errors import HarnessError


def test_met_requirements_pass(tmp_path):
    file = tmp_path / "requirements.txt"
    file.write_text(f"# a comment\nclick=={click_version()}\npyyaml>=5  # inline comment\n\n"
                    "nonexistent-package-xyz; python_version < '3.0'\n")
    assert requirements.unmet(file) == []
    requirements.ensure(tmp_path, install=False)


def click_version():
    from importlib.metadata import version

    return version("click")


def test_unmet_requirements_are_listed_with_the_fix(tmp_path):
    file = tmp_path / "requirements.txt"
    file.write_text("click==0.0.1\nnonexistent-package-xyz>=1\n-e ./local-package\n")
    with pytest.raises(HarnessError) as error:
        requirements.ensure(tmp_path, install=False)
    message = error.value.message
    assert f"click==0.0.1 (installed: {click_version()})" in message
    assert "nonexistent-package-xyz>=1 (not installed)" in message
    assert "-e ./local-package (cannot be checked; install it)" in message
    assert f"-m pip install -r {file}" in error.value.hint
    assert "--install-requirements" in error.value.hint


def test_no_file_is_nothing_to_do(tmp_path):
    requirements.ensure(tmp_path, install=False)


def test_install_runs_pip_on_the_file(tmp_path, monkeypatch):
    """A local package (no index), installed into a target folder, as pip would anywhere."""
    package = tmp_path / "tiny_req_pkg"
    (package / "tiny_req_pkg").mkdir(parents=True)
    (package / "tiny_req_pkg" / "__init__.py").write_text("VALUE = 7\n")
    (package / "pyproject.toml").write_text(
        '[project]\nname = "tiny-req-pkg"\nversion = "1.0"\n'
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n')
    target = tmp_path / "site"
    monkeypatch.setenv("PIP_TARGET", str(target))  # leave this environment as it is
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # (pip's spelling of "no isolation")
    (tmp_path / "requirements.txt").write_text(f"{package}\n")
    requirements.ensure(tmp_path, install=True)
    assert (target / "tiny_req_pkg" / "__init__.py").read_text() == "VALUE = 7\n"
    (tmp_path / "requirements.txt").write_text(f"{package}/does-not-exist\n")
    with pytest.raises(HarnessError, match="pip could not install"):
        requirements.ensure(tmp_path, install=True)
