"""Every touch of SDK v3's private API, in one place, applied from a function, never at import."""

from __future__ import annotations

from collections.abc import Callable


def training_labels(labels: dict[str, str]) -> Callable[[], None]:
    """Label ModelTrainer's local training containers with `labels` (v2 takes them from the
    session's `container_config`; v3's training containers have none), so that the session's
    close finds and removes them. Returns the undo."""
    from sagemaker.train.local.local_container import _LocalContainer

    original = _LocalContainer._create_docker_host

    def labelled(self, *args, **kwargs):
        return {**original(self, *args, **kwargs), "labels": dict(labels)}

    _LocalContainer._create_docker_host = labelled
    return lambda: setattr(_LocalContainer, "_create_docker_host", original)
