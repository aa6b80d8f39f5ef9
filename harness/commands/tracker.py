"""`harness tracker up|down|status|ui`: the local MLflow tracking server, as lines to print."""

from __future__ import annotations

from collections.abc import Callable

from harness.containers import tracker


def up(port: int | None, say: Callable[[str], None]) -> str:
    url = tracker.up(port, say=say)
    return f"MLflow tracking server is up at {url} (MLFLOW_TRACKING_URI={url})"


def down() -> str:
    tracker.down()
    return f"MLflow tracking server is down; its runs are kept in Docker volume {tracker.VOLUME}"


def status() -> tuple[list[str], bool]:
    """The server's state, URL, database and artifact store, and whether it answers."""
    found = tracker.status()
    if found.running:
        state = "up"
    elif found.started:
        state = f"starting, or not answering (its container runs; see `{tracker.logs_command()}`)"
    else:
        state = f"down ({tracker.UP_HINT})"
    return [f"MLflow tracking server: {state}",
            f"  url:       {found.url}",
            f"  database:  {found.database}",
            f"  artifacts: {found.artifacts} (LocalStack S3)"], found.running


def ui() -> str | None:
    """The URL to open in a browser; None when the server does not answer."""
    found = tracker.status()
    return found.url if found.running else None
