"""A PATH made for a test: every program of this one, less some, plus shell-script stand-ins."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REAL_DOCKER = shutil.which("docker")
REAL_COMPOSE = shutil.which("docker-compose")


def path_without(folder: Path, *names: str, scripts: dict[str, str] | None = None) -> str:
    """A PATH of one folder holding links to this PATH's programs, less `names`, and
    `scripts` (name: body of a /bin/sh script) in their place."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in reversed(os.environ.get("PATH", "").split(os.pathsep)):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name in names or not os.access(entry.path, os.X_OK):
                continue
            if link.is_symlink():
                link.unlink()  # an earlier PATH entry wins, as in a shell
            link.symlink_to(entry.path)
    for name, body in (scripts or {}).items():
        script = folder / name
        script.unlink(missing_ok=True)
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return str(folder)


def compose_plugin(version: str, log: Path) -> str:
    """A `docker` whose `compose` plugin reports `version` and runs the installed
    docker-compose; each call is appended to `log`."""
    return f"""echo "$*" >> {log}
if [ "$1" = compose ]; then
  shift
  if [ "$1" = version ]; then echo "Docker Compose version {version}"; exit 0; fi
  exec {REAL_COMPOSE} "$@"
fi
exec {REAL_DOCKER} "$@"
"""


NO_COMPOSE_PLUGIN = f"""if [ "$1" = compose ]; then
  echo "docker: 'compose' is not a docker command." >&2; exit 1
fi
exec {REAL_DOCKER} "$@"
"""
