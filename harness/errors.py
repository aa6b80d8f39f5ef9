"""Errors that carry a fix. The CLI turns them into messages; nothing else prints them."""

from __future__ import annotations

import errno
import logging
import shutil
from pathlib import Path

MESSAGES = "harness.messages"  # the logger of warnings and notes, which the CLI prints


class HarnessError(Exception):
    """A problem the user can fix. `hint` says how."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ConfigError(HarnessError):
    """The job config is invalid."""


class StepError(HarnessError):
    """A step of the flow failed or was run out of order."""


def warn(message: str) -> None:
    """A problem that does not stop the command: the CLI prints it as a `warning:` line."""
    logging.getLogger(MESSAGES).warning(message)


def note(message: str) -> None:
    """Something the user should know that harness did on its own: the CLI prints it."""
    logging.getLogger(MESSAGES).info(message)
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def out_of_space(text: str) -> bool:
    """Whether an error text says a disk was full (the words of ENOSPC and EDQUOT)."""
    return "No space left on device" in text or "Disk quota exceeded" in text


def free_space(path: Path) -> str:
    """Free space on the disk that holds `path` (or its nearest existing parent), readable."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    free = float(shutil.disk_usage(path).free)
    for unit in ("bytes", "KB", "MB"):
        if free < 1024:
            return f"{free:.0f} bytes" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1024
    return f"{free:.1f} GB"


def disk_full(path: Path, run_dir: Path | None = None) -> HarnessError:
    """The disk that holds `path` is full; moving the run dir helps when `path` is in it."""
    move = (", or set run_dir to a folder on a disk with room (--set run_dir=...)"
            if run_dir and _inside(path, run_dir) else "")
    return HarnessError(f"no space left on the disk that holds {path}",
                        f"free space on it ({free_space(path)} free now){move}")


def not_writable(path: Path, reason: str) -> HarnessError:
    return HarnessError(f"cannot write to {path}: {reason}",
                        f"make {path} writable (it is on a read-only mount, or you lack the "
                        "permissions), or set run_dir to a folder you can write "
                        "(--set run_dir=...)")


def explain(error: BaseException, run_dir: Path | None) -> HarnessError:
    """A message for an error harness did not expect: a full or read-only disk named as such,
    anything else as itself, with how to see its traceback."""
    for cause in _chain(error):
        if isinstance(cause, OSError):
            where = Path(cause.filename) if cause.filename else run_dir
            if cause.errno in NO_SPACE or out_of_space(str(cause)):
                return disk_full(where or Path.cwd(), run_dir)
            if cause.errno in NOT_WRITABLE and where:
                if run_dir and _inside(where, run_dir):
                    return not_writable(run_dir, f"{cause.strerror} ({where})")
                return HarnessError(f"{where}: {cause.strerror}",
                                    "check its permissions, and that its disk is mounted "
                                    "read-write")
    first_line = (str(error).strip().splitlines() or [""])[0]
    return HarnessError(f"unexpected {type(error).__name__}: {first_line}",
                        "rerun with --debug (or HARNESS_DEBUG=1) to see the traceback; if it "
                        "points into harness, please report it with that traceback")


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def _chain(error: BaseException | None):
    """The error, then what caused it, and so on."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
