"""An MLflow client that never fails the run: MLflow missing, a server that is down or that
refuses a write is one warning line saying where the metrics still are, and every later call
of that tracker does nothing."""

from __future__ import annotations

import importlib.util
import logging
import os
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from harness.errors import warn
from harness.tracking.target import Target

T = TypeVar("T")
PROBE_TIMEOUT_S = 5
# MLflow retries a failed request 7 times with backoff (minutes): a tracker that went away
# would hold up the end of a run that long.
HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
QUIET = ("mlflow", "alembic")
# sagemaker-mlflow (SDK v3 installs it) adds a request-header provider that fails, with a
# warning per request, on any tracking URI but a SageMaker MLflow ARN.
HEADER_PROVIDERS = "mlflow.tracking.request_header.registry"
NO_TELEMETRY = "MLFLOW_DISABLE_TELEMETRY"
BATCH = 1000  # MLflow's limit of metrics per log_batch request (100 for params)


class Tracker:
    def __init__(self, target: Target, fallback: str):
        """`fallback`: where the metrics still are when tracking fails (the run dir)."""
        self.target = target
        self.fallback = fallback
        self.failed = False
        self.experiment_id: str | None = None
        self.client: Any = self._attempt("connecting", self._connect)

    @property
    def on(self) -> bool:
        return self.client is not None and not self.failed

    def call(self, what: str, action: Callable[[], T]) -> T | None:
        """`action()`, or None once tracking has failed; its first error turns tracking off
        with one warning line."""
        return self._attempt(what, action) if self.on else None

    def _attempt(self, what: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except Exception as e:  # noqa: BLE001 - the tracker never fails a run
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            self.off(f"{what}: {reason}")
            return None

    def off(self, reason: str, fix: str = "") -> None:
        if not self.failed:
            warn(f"MLflow tracking to {self.target.uri} stopped ({reason}); the run goes on and "
                 f"its metrics are still in {self.fallback}{'; ' + fix if fix else ''}")
        self.failed = True

    def _connect(self) -> Any:
        if importlib.util.find_spec("mlflow") is None:
            self.off("mlflow is not installed", "pip install 'harness[tracking]' (or mlflow-skinny)")
            return None
        if self.target.is_arn and importlib.util.find_spec("sagemaker_mlflow") is None:
            self.off("logging to a SageMaker MLflow ARN needs the sagemaker-mlflow plugin",
                     "pip install sagemaker-mlflow")
            return None
        if self.target.is_http:
            for key, value in HTTP_SETTINGS.items():
                os.environ.setdefault(key, value)
            urllib.request.urlopen(f"{self.target.uri.rstrip('/')}/health",
                                   timeout=PROBE_TIMEOUT_S).close()
        client = mlflow_client(self.target.uri)
        self.experiment_id = experiment_id(client, self.target)
        return client


def mlflow_client(uri: str) -> Any:
    """MLflow's client on `uri`, with MLflow's usage telemetry off unless the user turned it
    on (MLFLOW_DISABLE_TELEMETRY=false): nothing leaves the machine in the emulated modes."""
    os.environ.setdefault(NO_TELEMETRY, "true")
    from mlflow import MlflowClient

    for name in QUIET:  # their INFO lines (a new database's tables) are not the user's
        logging.getLogger(name).setLevel(logging.WARNING)
    if not uri.startswith("arn:"):
        logging.getLogger(HEADER_PROVIDERS).setLevel(logging.ERROR)
    return MlflowClient(tracking_uri=uri)


def experiment_id(client: Any, target: Target) -> str:
    """The experiment's id, made when it is new (another process may make it meanwhile)."""
    found = client.get_experiment_by_name(target.experiment)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(target.experiment,
                                        artifact_location=target.artifact_location)
    except Exception:  # noqa: BLE001 - made by a parallel trial in between: read it again
        found = client.get_experiment_by_name(target.experiment)
        if found is None:
            raise
        return found.experiment_id


def log(client: Any, run_id: str, metrics: Sequence[tuple[str, float, int, int]] = (),
        params: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
    """Metrics (name, value, step, timestamp in ms), params and tags in as few requests as
    MLflow allows."""
    from mlflow.entities import Metric, Param, RunTag

    entries = [Metric(name, float(value), at, step) for name, value, step, at in metrics]
    params_list = [Param(k, str(v)) for k, v in (params or {}).items()]
    for start in range(0, len(entries), BATCH):
        client.log_batch(run_id, metrics=entries[start:start + BATCH])
    for start in range(0, len(params_list), 100):
        client.log_batch(run_id, params=params_list[start:start + 100])
    if tags:
        client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
