"""pytest fixtures to test your own training and serving code in harness's modes, isolated
per test (`pytest -n 4` works) and cleaned up even when a test fails or is interrupted.

Installing harness enables the plugin (entry point `pytest11`); `-p harness.pytest_plugin`
enables it by hand, `-p no:harness.pytest_plugin` disables it. `pytest --fixtures` lists the
fixtures.

    @pytest.mark.harness_modes("local", "sagemaker-local")
    def test_serves(harness_job, harness_endpoint):
        job = harness_job("harness.yaml", {"hyperparameters.epochs": 2})
        job.train()
        endpoint = harness_endpoint(job)   # .name, .url, .predict(payload)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness import modes, sdk
from harness.errors import HarnessError

MARKER = "harness_modes"
# Shared by the processes of one pytest run (pytest-xdist's workers inherit it): where they
# agree on who starts LocalStack, and whether it must be stopped at the end.
RUN_ENV = "HARNESS_PYTEST_RUN"
STARTED = "emulator-started"
# What a mode needs running before its test starts (the registry says): these session fixtures.
FIXTURE_FOR = {modes.EMULATOR: "harness_emulator", modes.IMAGE: "harness_image"}


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*modes): run the test once per harness mode (e.g. 'local', "
                   "'sagemaker-local'); harness_job, harness_session and harness_endpoint "
                   "use that mode")
    if not hasattr(config, "workerinput"):  # the controlling process, not an xdist worker
        os.environ[RUN_ENV] = uuid.uuid4().hex
    _interrupt_on_sigterm()
    sdk.quiet_sdk()


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    """Inside pytest's warning filters (`-W error::DeprecationWarning` included): the SDK's
    warnings about its own code are not the tests' failures; the user's code's still are."""
    sdk.ignore_sdk_warnings()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    sdk.ignore_sdk_warnings()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A HarnessError the test's code raised (its SDK code on a harness session included) is
    one screen: where in the test, the problem and the fix; no traceback."""
    report = yield
    error = call.excinfo.value if call.excinfo else None
    if report.failed and isinstance(error, HarnessError):
        lines = [entry for entry in call.excinfo.traceback if entry.path == item.path]
        where = f"{item.path.name}:{lines[-1].lineno + 1}: " if lines else ""
        report.longrepr = f"{where}{error}"
    return report


def _interrupt_on_sigterm() -> None:
    """A CI cancelling the job sends SIGTERM (`docker stop` of the tests container, where
    pytest is PID 1 and would ignore it): make it Ctrl-C, whose teardown removes everything."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def pytest_generate_tests(metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    unknown = [mode for mode in marker.args if mode not in modes.MODES]
    if unknown or not marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}{marker.args}: valid modes are "
                                f"{', '.join(modes.MODES)}")
    if "harness_mode" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER} needs a "
                                "harness fixture (harness_job, harness_session, "
                                "harness_endpoint or harness_mode)")
    metafunc.parametrize("harness_mode", marker.args, indirect=True, ids=marker.args)


def pytest_sessionfinish(session) -> None:
    """Stop LocalStack if this run started it (once, in the controlling process)."""
    if hasattr(session.config, "workerinput"):
        return
    if (_shared_dir() / STARTED).exists():
        from harness.containers import emulator

        emulator.down()
    shutil.rmtree(_shared_dir(), ignore_errors=True)


def _shared_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / f"harness-pytest-{os.environ.get(RUN_ENV, 'solo')}"
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def _run_lock() -> Iterator[None]:
    """One process of this pytest run at a time (xdist workers start LocalStack once)."""
    with open(_shared_dir() / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def require_docker() -> None:
    """Skip without a Docker engine, except under CI=true, where its absence is a failure."""
    from harness.containers import docker_engine

    try:
        docker_engine.client()
    except HarnessError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Docker is unusable: {e}", pytrace=False)
        pytest.skip(f"no Docker engine: {e}")


def _fail(error: HarnessError) -> NoReturn:
    """Fail the test with the error and its fix, without a traceback."""
    pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def harness_emulator() -> str:
    """LocalStack's S3 URL: the one running, else one this run starts (and stops at its end)."""
    require_docker()
    from harness.containers import docker_engine, emulator

    url = emulator.endpoint_url()
    if emulator.health(url) is None:
        with _run_lock():
            engine = docker_engine.client()
            # One still starting is someone else's: wait for it, never stop it.
            already = [c for c in docker_engine.compose_containers(
                engine, [emulator.PROJECT], stopped=False)
                if c.labels.get("com.docker.compose.service") == "localstack"]
            try:
                emulator.up()
            except HarnessError as e:
                _fail(e)
            if not already:
                (_shared_dir() / STARTED).touch()
    return url


@pytest.fixture(scope="session")
def harness_image() -> str:
    """harness's training and serving image for sagemaker-local, built once if missing."""
    require_docker()
    from harness.containers import image

    with _run_lock():
        try:
            return image.build()[0]
        except HarnessError as e:
            _fail(e)


@pytest.fixture
def harness_mode(request) -> str:
    """The test's mode (its harness_modes parameter, $HARNESS_MODE, or local), ready to use."""
    return _ready(modes.choose(getattr(request, "param", None)), request)


def _ready(mode: str, request) -> str:
    for need in modes.MODES[mode].needs:
        request.getfixturevalue(FIXTURE_FOR[need])
    return mode


def with_overrides(first: Mapping[str, Any], overrides: Any) -> dict[str, Any] | list[str]:
    """`first`, then `overrides` (a mapping or `key=value` strings, which win), in the form
    `overrides` has."""
    if overrides is None or isinstance(overrides, Mapping):
        return {**first, **(overrides or {})}
    return [f"{key}={json.dumps(value)}" for key, value in first.items()] + list(overrides)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30] or "test"


class _Isolation:
    """Per-call names, run dirs, S3 prefixes and ports of one test, so that parallel tests
    share nothing (on SageMaker, endpoint names are unique per account)."""

    def __init__(self, request, tmp_path_factory):
        self.name = _slug(request.node.name)
        self.tmp = tmp_path_factory
        self.run_dirs: list[Path] = []

    def overrides(self, config: str | Path | None, overrides: Any) -> dict[str, Any] | list[str]:
        """`overrides` (a mapping or `key=value` strings) after this call's own keys."""
        from harness.config import load_config
        from harness.host.endpoint_process import free_port

        run_dir = self.tmp.mktemp(f"harness-{self.name}", numbered=True)
        self.run_dirs.append(run_dir)
        unique = uuid.uuid4().hex[:6]
        name = load_config(config, overrides or ()).name[:32].rstrip("-")
        own = {"name": f"{name}-{unique}",  # 39 characters at most: harness keeps it whole
               "run_dir": str(run_dir / "run"), "endpoint.port": free_port(),
               "s3.prefix": f"pytest-{self.name}-{unique}"}
        return with_overrides(own, overrides)

    def remove_run_dirs(self) -> None:
        for folder in self.run_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def _remove_job(job) -> list[str]:
    """Delete the job's endpoint, kill its processes, remove its containers and S3 prefix; what
    could not be removed, one line each."""
    from harness.api import Predictor
    from harness.run_dir import Endpoint

    problems = []
    context = job.context
    with contextlib.suppress(HarnessError):
        if context.run.get(Endpoint):
            try:
                Predictor(context, context.run.get(Endpoint)).delete()
            except Exception as e:  # noqa: BLE001 - what follows removes the rest anyway
                problems.append(f"deleting the endpoint of {context.run.path}: {e}")
    _kill_processes(context.run.path)
    _remove_containers(context.run.path)
    try:
        storage = context.storage
        if storage.fs.exists(storage.root):
            storage.fs.rm(storage.root, recursive=True)
    except Exception as e:  # noqa: BLE001 - reported, after everything else was tried
        problems.append(f"removing {context.storage.root}: {e}")
    return problems


def _kill_processes(run: Path) -> None:
    """Processes started for this run (endpoints, training) that still run."""
    import psutil

    from harness.host import ownership

    found = ownership.run_processes(run)
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    ownership.wait_ended(found)


def _remove_containers(run: Path) -> None:
    from harness.containers import docker_engine

    try:
        engine = docker_engine.client()
    except HarnessError:
        return  # no engine: no container can be there
    for container in docker_engine.run_containers(engine, run):
        docker_engine.force_remove(container)


def _mode_or(harness_mode: str, mode: str | None, request) -> str:
    """`mode` when given (with what it needs up), else the test's mode."""
    return harness_mode if mode is None else _ready(modes.choose(mode), request)


@pytest.fixture
def harness_job(request, harness_mode, tmp_path_factory):
    """Factory (config, overrides=None, mode=None) -> harness.Job, all of it removed after."""
    from harness.api import Job

    isolation = _Isolation(request, tmp_path_factory)
    jobs = []

    def make(config: str | Path | None, overrides: Any = None, mode: str | None = None) -> Job:
        """`overrides`: {"hyperparameters.epochs": 1} or ["hyperparameters.epochs=1"]."""
        job = Job.from_config(config, _mode_or(harness_mode, mode, request),
                              isolation.overrides(config, overrides))
        jobs.append(job)
        return job

    yield make
    problems = [line for job in reversed(jobs) for line in _remove_job(job)]
    isolation.remove_run_dirs()
    if problems:
        pytest.fail("harness_job left behind:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def harness_session(request, harness_mode, tmp_path_factory):
    """Factory (mode=None, config=None, overrides=None) -> harness.session(...), closed after."""
    from harness import api

    isolation = _Isolation(request, tmp_path_factory)
    sessions = []

    def make(mode: str | None = None, config: str | Path | None = None, overrides: Any = None):
        session = api.session(_mode_or(harness_mode, mode, request), config,
                              isolation.overrides(config, overrides))
        sessions.append(session)
        return session

    yield make
    for session in reversed(sessions):
        session.close()
    for folder in isolation.run_dirs:
        _remove_containers(folder / "run")
    isolation.remove_run_dirs()


class HarnessEndpoint:
    """A deployed endpoint: `name` and `url` (the SageMaker Runtime API's, for boto3's
    `sagemaker-runtime` client), `predict(payload)` and `job`."""

    def __init__(self, predictor, job):
        self.predictor = predictor
        self.job = job
        self.name: str = predictor.endpoint.name
        self.url: str = predictor.endpoint.url

    def predict(self, payload: Any) -> Any:
        return self.predictor.predict(payload)

    def __repr__(self) -> str:
        return f"HarnessEndpoint({self.name!r}, {self.url!r})"


@pytest.fixture
def harness_endpoint(harness_job):
    """Factory (job, or model_data=..., config=None) -> a live endpoint, deleted even on failure."""
    from harness.run_dir import Endpoint

    endpoints: list[HarnessEndpoint] = []

    def deploy(job=None, *, model_data: str | Path | None = None,
               config: str | Path | None = None, overrides: Any = None,
               mode: str | None = None) -> HarnessEndpoint:
        if (job is None) == (model_data is None):
            raise TypeError("harness_endpoint(job) or harness_endpoint(model_data=...), not both")
        if job is None:
            assert model_data is not None
            data = str(model_data) if str(model_data).startswith("s3://") else \
                str(Path(model_data).resolve())
            job = harness_job(config, with_overrides({"model_data": data}, overrides), mode)
        endpoints.append(HarnessEndpoint(job.deploy(), job))
        return endpoints[-1]

    yield deploy
    for endpoint in reversed(endpoints):
        if endpoint.job.context.run.get(Endpoint):
            endpoint.predictor.delete()
