"""harness's pytest plugin, run as a user runs it: a pytest of its own on test files that use
only the plugin, then checks from outside that what those tests started is gone."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from harness.host import endpoint_process, ownership
from harness.pytest_plugin import require_docker
from tests.support.cli import inner_pytest, run_inner
from tests.support.runs import REPO

EXAMPLE = REPO / "examples" / "linear-regression" / "harness.yaml"
FIXTURES = ["harness_emulator", "harness_image", "harness_mode", "harness_job",
            "harness_session", "harness_endpoint"]


RECORD = '''
import json, os
from pathlib import Path

def record(job, endpoint=None):
    """What the outer test checks is gone afterwards."""
    facts = {"name": job.config.name, "run": str(job.context.run.path),
             "storage": job.context.storage.root,
             "port": job.config.endpoint.port, "prefix": job.config.s3_prefix}
    with open(os.environ["FACTS"], "a") as f:
        f.write(json.dumps(facts) + "\\n")
'''


def facts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def still_there(fact: dict) -> list[str]:
    """Processes, containers, a listening port, files and S3 objects the inner test's job
    left."""
    left = [f"process {p.pid}" for p in ownership.run_processes(fact["run"])]
    if endpoint_process.listening(fact["port"]):
        left.append(f"port {fact['port']}")
    if Path(fact["run"]).exists():
        left.append(fact["run"])
    if fact["storage"].startswith("s3://"):
        left += [f"s3 {key}" for key in stored_keys(fact["storage"])]
        from harness.containers import docker_engine

        left += [f"container {c.name}"
                 for c in docker_engine.run_containers(docker_engine.client(), fact["run"])]
    elif Path(fact["storage"]).exists():
        left.append(fact["storage"])
    return left


def stored_keys(uri: str) -> list[str]:
    import boto3

    from harness.containers import emulator
    from harness.modes.sagemaker_local.session import CREDENTIALS

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=emulator.endpoint_url(), **CREDENTIALS)
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return [item["Key"] for item in listing.get("Contents", [])]


def test_fixtures_are_listed_with_one_line_docs(tmp_path):
    code, output = run_inner(tmp_path, "def test_nothing():\n    pass\n", "--fixtures")
    assert code == 0, output
    for name in FIXTURES:
        line = next(i for i, text in enumerate(output.splitlines()) if text.startswith(name))
        doc = output.splitlines()[line + 1].strip()
        assert doc and not doc.startswith(("no docstring", "harness/")), (name, doc)
    code, output = run_inner(tmp_path, "def test_nothing():\n    pass\n", "--markers")
    assert "@pytest.mark.harness_modes(*modes)" in output


@pytest.mark.parametrize("test_code, problem", [
    ("import pytest\n@pytest.mark.harness_modes('local', 'laptop')\n"
     "def test_x(harness_job):\n    pass\n", "valid modes are local, sagemaker-local"),
    ("import pytest\n@pytest.mark.harness_modes('local')\ndef test_x():\n    pass\n",
     "needs a harness fixture"),
])
def test_marker_misuse_is_named(tmp_path, test_code, problem):
    code, output = run_inner(tmp_path, test_code)
    assert code != 0
    assert problem in output


def test_marker_runs_a_test_once_per_mode(tmp_path):
    code, output = run_inner(tmp_path, (
        "import pytest\n@pytest.mark.harness_modes('local', 'sagemaker')\n"
        "def test_x(harness_mode):\n    print('MODE', harness_mode)\n"), "-s", "-vv")
    assert code == 0, output
    assert "test_x[local] MODE local" in output
    assert "test_x[sagemaker] MODE sagemaker" in output


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["local", "sagemaker-local"])
def test_a_failing_test_leaves_nothing_behind(tmp_path, monkeypatch, mode):
    """Two jobs in one test, isolated from each other; the test fails with an endpoint up and
    a trained model in storage: the fixtures' teardown removes it all."""
    if mode == "sagemaker-local":
        require_docker()
    monkeypatch.setenv("FACTS", str(tmp_path / "facts.jsonl"))
    monkeypatch.setenv("HARNESS_MODE", mode)
    code, output = run_inner(tmp_path, RECORD + f'''
def test_fails(harness_job, harness_endpoint):
    first = harness_job({str(EXAMPLE)!r})
    second = harness_job({str(EXAMPLE)!r}, ["hyperparameters.epochs=5"])
    first.train()
    endpoint = harness_endpoint(first)
    assert endpoint.predict({{"inputs": ["1,0"]}})["predictions"]
    record(first); record(second)
    assert first.context.storage.exists(first.model_data)
    assert False, "the user's assertion"
''')
    assert code == 1 and "the user's assertion" in output, output
    first, second = facts(tmp_path / "facts.jsonl")
    assert first["name"].startswith("linear-regression-") and first["name"] != second["name"]
    assert len({first["run"], second["run"]}) == 2
    assert len({first["port"], second["port"]}) == 2
    assert len({first["prefix"], second["prefix"]}) == 2
    assert still_there(first) == [] and still_there(second) == []


@pytest.mark.e2e
@pytest.mark.parametrize("interrupt", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_test_leaves_nothing_behind(tmp_path, monkeypatch, interrupt):
    """Ctrl-C, or a CI's SIGTERM, while the test runs, with an endpoint up: the endpoint goes
    with the session."""
    monkeypatch.setenv("FACTS", str(tmp_path / "facts.jsonl"))
    ready = tmp_path / "ready"
    proc = inner_pytest(tmp_path, RECORD + f'''
import time
def test_waits(harness_endpoint, tmp_path):
    import io, tarfile
    data = json.dumps({{"weights": [1.0, 1.0], "bias": 0.0}}).encode()
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    endpoint = harness_endpoint(model_data=tmp_path / "model.tar.gz", config={str(EXAMPLE)!r})
    record(endpoint.job)
    Path({str(ready)!r}).touch()
    time.sleep(120)
''')
    deadline = time.monotonic() + 120
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    (fact,) = facts(tmp_path / "facts.jsonl")
    assert endpoint_process.listening(fact["port"])
    proc.send_signal(interrupt)
    output, _ = proc.communicate(timeout=120)
    assert "KeyboardInterrupt" in output, output
    assert still_there(fact) == []


@pytest.mark.harness_modes("sagemaker-local")
def test_harness_session_is_the_modes_sdk_session(harness_session, harness_emulator, tmp_path):
    """SDK code on the fixture's session reaches LocalStack's S3, in a bucket of the config's."""
    session = harness_session()
    (tmp_path / "hello.txt").write_text("hello")
    uri = session.sagemaker_session.upload_data(str(tmp_path / "hello.txt"),
                                                bucket=session.default_bucket,
                                                key_prefix=f"plugin-{tmp_path.name[-12:]}")
    assert uri.startswith(f"s3://{session.default_bucket}/")
    key = uri.split("/", 3)[3]
    assert session.sagemaker_session.read_s3_file(session.default_bucket, key) == "hello"
    session.sagemaker_session.boto_session.client(
        "s3", endpoint_url=harness_emulator).delete_object(Bucket=session.default_bucket, Key=key)
    assert session.image_uri.startswith("harness-train:")
    assert harness_emulator.endswith(":4566")


STRICT_USER_TESTS = '''
import warnings
from importlib import metadata

import pytest

V3 = metadata.version("sagemaker").startswith("3.")
if V3:  # imported at collection, before any harness fixture
    from sagemaker.core.training.configs import Compute, SourceCode
    from sagemaker.train import ModelTrainer
else:
    from sagemaker.huggingface import HuggingFace


@pytest.mark.harness_modes("sagemaker-local")
def test_my_sdk_code(harness_session):
    sess = harness_session()
    if V3:
        trainer = ModelTrainer(
            training_image=sess.image_uri, role=sess.role, training_mode=sess.training_mode,
            source_code=SourceCode(source_dir=".", entry_script="test_user.py"),
            compute=Compute(instance_type=sess.instance_type, instance_count=sess.instance_count),
            sagemaker_session=sess.sagemaker_session)
        assert trainer.training_image == sess.image_uri
    else:
        estimator = HuggingFace(entry_point="test_user.py", source_dir=".", role=sess.role,
                                image_uri=sess.image_uri, instance_type=sess.instance_type,
                                instance_count=1, py_version="py311",
                                sagemaker_session=sess.sagemaker_session)
        assert estimator.image_uri == sess.image_uri


def test_my_own_deprecation():
    warnings.warn("my own API is deprecated", DeprecationWarning)
'''


def test_sdk_warnings_do_not_fail_a_strict_users_run(tmp_path):
    """`-W error::DeprecationWarning -W error::FutureWarning`: SDK code on harness_session
    passes under the installed major (the SDK's warnings about itself are not the user's);
    the user's own deprecation still fails."""
    code, output = run_inner(tmp_path, STRICT_USER_TESTS, "-W", "error::FutureWarning",
                             "-W", "error::DeprecationWarning", "-rA")
    assert code == 1, output
    assert "PASSED test_user.py::test_my_sdk_code[sagemaker-local]" in output
    assert "FAILED test_user.py::test_my_own_deprecation - DeprecationWarning: my own API" in output
    assert "1 failed, 1 passed" in output
    assert "SageMakerV2DeprecationWarning" not in output and "sagemaker.train.configs" not in output
