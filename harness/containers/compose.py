"""Docker Compose, found once: the `docker compose` plugin (v2 and later) or the
`docker-compose` binary (1.29). harness's LocalStack commands and SDK local mode both run it."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from harness.errors import HarnessError

INSTALL_HINT = ("install Docker Compose: the `docker compose` plugin (Docker's own packages: "
                "`apt-get install docker-compose-plugin`; Docker Desktop has it) or the "
                "`docker-compose` binary (Debian: `apt-get install docker-compose`)")
VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Compose:
    command: tuple[str, ...]  # ("docker", "compose") or ("docker-compose",)
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    def describe(self) -> str:
        return f"`{' '.join(self.command)}` {self.version}"


def _version(command: list[str]) -> str | None:
    """The x.y.z that `command` prints, or None where it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = VERSION.search(result.stdout) if result.returncode == 0 else None
    return ".".join(found.groups()) if found else None


@functools.cache
def _find(path: str) -> Compose:  # `path`: PATH, the cache's key
    plugin = _version(["docker", "compose", "version"])
    if plugin and int(plugin.split(".")[0]) >= 2:
        return Compose(("docker", "compose"), plugin)
    binary = _version(["docker-compose", "--version"])
    if binary:
        return Compose(("docker-compose",), binary)
    raise HarnessError("Docker Compose is not installed: neither `docker compose` (v2 or later) "
                       "nor `docker-compose` answers on PATH", INSTALL_HINT)


def find() -> Compose:
    """The Compose on this PATH (asked once per PATH); a one-screen error without one."""
    return _find(os.environ.get("PATH", ""))
