"""`harness init`: the starter project it writes trains in local mode as written, and its own
tests collect with harness's pytest plugin; a folder that has those files already is refused."""

import json
import subprocess
import sys
import tarfile

from tests.support.cli import harness

STARTER = {"harness.yaml", "pytest.ini", "training/train.py", "serving/inference.py",
           "data/training/points.csv", "data/validation/points.csv",
           "tests/test_linear_regression.py"}


def test_the_starter_project_trains_and_its_tests_collect(tmp_path, monkeypatch):
    project = tmp_path / "my-project"
    harness("init", str(project))
    written = {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}
    assert written == STARTER

    monkeypatch.chdir(project)
    result = harness("train", "-c", "harness.yaml")
    assert "validation:mse" in result.stdout
    [output] = project.glob("runs/linear-regression/s3/**/output/output.tar.gz")
    with tarfile.open(output) as tar:  # what train.py wrote to SM_OUTPUT_DATA_DIR
        metrics = json.load(tar.extractfile("data/metrics.json"))
    assert metrics["validation_mse"] < 0.01

    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                                "-p", "no:cacheprovider"], cwd=project, capture_output=True,
                               text=True)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "test_trains_and_serves_the_line[local]" in collected.stdout
    assert "test_trains_and_serves_the_line[sagemaker-local]" in collected.stdout


def test_init_refuses_to_overwrite_a_project(tmp_path):
    (tmp_path / "harness.yaml").write_text("name: mine\n")
    (tmp_path / "notes.txt").write_text("kept\n")
    result = harness("init", str(tmp_path), check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == f"error: {tmp_path} already has harness.yaml"
    assert "fix: pass --force to overwrite them" in result.stderr
    assert (tmp_path / "harness.yaml").read_text() == "name: mine\n"
    assert not (tmp_path / "training").exists()

    harness("init", str(tmp_path), "--force")
    assert "name: linear-regression" in (tmp_path / "harness.yaml").read_text()
    assert (tmp_path / "notes.txt").read_text() == "kept\n"
