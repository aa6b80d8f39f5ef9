"""A real MLflow tracking server on this machine, for the tracking tests, and its runs read back
with MLflow's own client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.host.endpoint_process import free_port

# The server needs the full `mlflow` (the `test` extra); the Python that has it, where this
# one has only the client (mlflow-skinny).
SERVER_PYTHON = os.environ.get("HARNESS_TEST_MLFLOW_PYTHON", sys.executable)
START_TIMEOUT_S = 120


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """`mlflow server` on a free port with a SQLite backend and artifacts served from
    `folder`; its URL. Stopped (and waited for) on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen(
            [SERVER_PYTHON, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--serve-artifacts",
             "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, folder / "server.log")
        yield url
    finally:
        stop(server)


def wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited {server.returncode}:\n"
                                 f"{log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow server at {url} did not answer:\n{log.read_text()[-2000:]}")


def stop(server: subprocess.Popen) -> None:
    import signal

    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def runs(uri: str, experiment: str) -> list:
    """The experiment's runs, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} at {uri}"
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def artifact_paths(uri: str, run_id: str) -> set[str]:
    from mlflow import MlflowClient

    return {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id)}


def metric_history(uri: str, run_id: str, name: str) -> list[tuple[int, float]]:
    from mlflow import MlflowClient

    return [(m.step, m.value) for m in MlflowClient(tracking_uri=uri).get_metric_history(
        run_id, name)]
