"""`harness runs`: the tracked runs of the config's experiment, newest first; `harness runs
compare A B`: two runs' params and metrics side by side, the rows that differ marked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harness import tracking
from harness.errors import HarnessError
from harness.job import Job
from harness.tracking.client import mlflow_client

SHOWN = 50  # runs listed
KEY_METRICS = 3  # metric columns: the config's metric definitions, first ones first


def client(job: Job) -> tuple[Any, str, tracking.Target]:
    """MLflow's client on the config's tracker and the experiment's id; errors here are the
    command's own (nothing to fall back to)."""
    target = tracking.target(job.config)
    if target is None:
        raise HarnessError("tracking is off for this config: no runs to list",
                           "add a tracking: section (e.g. tracking: {uri: http://localhost:5000})"
                           " or set MLFLOW_TRACKING_URI")
    try:
        mlflow = mlflow_client(target.uri)
    except ImportError:
        raise HarnessError("listing runs needs MLflow's client",
                           "pip install 'harness[tracking]' (or mlflow-skinny)") from None
    try:
        found = mlflow.get_experiment_by_name(target.experiment)
    except Exception as e:  # noqa: BLE001 - MLflow's errors are many; one message for all
        raise HarnessError(f"cannot read experiment {target.experiment!r} at {target.uri}: "
                           f"{str(e).strip().splitlines()[0][:200]}",
                           "start the tracking server (harness tracker up) or fix tracking.uri"
                           ) from None
    if found is None:
        raise HarnessError(f"no experiment {target.experiment!r} at {target.uri} yet",
                           "run `harness train` with tracking on first")
    return mlflow, found.experiment_id, target


def runs(job: Job) -> str:
    mlflow, experiment, target = client(job)
    found = mlflow.search_runs([experiment], order_by=["attributes.start_time DESC"],
                               max_results=SHOWN)
    names = key_metrics(job, found)
    header = ["run id", "name", "mode", "status", "started", *names]
    rows = [[r.info.run_id, r.info.run_name or "-", r.data.tags.get(tracking.MODE_TAG, "-"),
             r.info.status, started(r.info.start_time),
             *(shown(r.data.metrics.get(n)) for n in names)] for r in found]
    title = f"experiment {target.experiment!r} at {target.uri}: {len(found)} runs"
    return "\n".join([title, *table([header, *rows])]) if rows else f"{title} (none yet)"


def compare(job: Job, first: str, second: str) -> str:
    """Params, then metrics (latest values), then harness's tags of two runs (by id or
    name); `*` marks a row whose values differ."""
    mlflow, experiment, _ = client(job)
    a, b = (find(mlflow, experiment, ref) for ref in (first, second))
    rows = [["", "", a.info.run_name or a.info.run_id, b.info.run_name or b.info.run_id]]
    for kind, left, right in (("param", a.data.params, b.data.params),
                              ("metric", a.data.metrics, b.data.metrics),
                              ("tag", harness_tags(a), harness_tags(b))):
        for key in sorted(set(left) | set(right)):
            x, y = shown(left.get(key)), shown(right.get(key))
            rows.append(["*" if x != y else "", f"{kind} {key}", x, y])
    return "\n".join(table(rows))


def find(mlflow: Any, experiment: str, ref: str) -> Any:
    """A run of the experiment by its id (or a prefix of it) or its name (the newest)."""
    found = [r for r in mlflow.search_runs([experiment], order_by=["attributes.start_time DESC"],
                                           max_results=1000)
             if r.info.run_id.startswith(ref) or r.info.run_name == ref]
    if not found:
        raise HarnessError(f"no run {ref!r} in this experiment",
                           "see the run ids and names with `harness runs`")
    return found[0]


def harness_tags(run: Any) -> dict[str, str]:
    return {k: v for k, v in run.data.tags.items() if k.startswith("harness.")}


def key_metrics(job: Job, found: list) -> list[str]:
    present = {name for r in found for name in r.data.metrics}
    defined = [d.Name for d in job.config.metric_definitions if d.Name in present]
    return (defined or sorted(present))[:KEY_METRICS]


def started(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


def shown(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]
