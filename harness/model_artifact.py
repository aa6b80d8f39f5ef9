"""A model.tar.gz as SageMaker hosting takes it: unpacked into the model folder, and with an
inference `source_dir` put in as its `code/` folder, as the SDK's `repack_model` does (the
folder replaces whatever `code/` the archive held)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

from harness.errors import HarnessError, StepError

CODE = "code"


def _in_code(name: str) -> bool:
    name = name.removeprefix("./")
    return name == CODE or name.startswith(f"{CODE}/")


def _open(source: BinaryIO, where: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=source, mode="r:*")
    except tarfile.TarError as e:
        raise HarnessError(f"{where} is not a model.tar.gz: {e}",
                           "give the tar.gz a training job wrote, or pack the model folder's "
                           "contents at the archive's root: tar -czf model.tar.gz -C model .") \
            from None


def check(source: BinaryIO, where: str, remedy: str) -> None:
    """That the archive is whole (every byte read, gzip's checksum checked): a damaged one is
    a StepError with `remedy` as its fix, before anything waits for it."""
    import gzip
    import zlib

    try:
        with gzip.GzipFile(fileobj=source) as unzipped:
            while unzipped.read(1 << 22):
                pass
        source.seek(0)
        with tarfile.open(fileobj=source, mode="r:gz") as tar:
            tar.getmembers()
    except (gzip.BadGzipFile, tarfile.TarError) as e:
        raise StepError(f"{where} is not a model.tar.gz ({e})", remedy) from e
    except (EOFError, zlib.error) as e:
        raise StepError(f"{where} is damaged, not a whole tar.gz ({e})", remedy) from e


def extract_all(tar: tarfile.TarFile, folder: Path) -> None:
    """Extract with tarfile's "data" filter; on a Python that lacks it (3.11.0 to 3.11.3,
    Debian bookworm's 3.11.2) refuse what it refuses that could leave `folder`: absolute or
    `..` paths, links pointing outside, devices."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(folder, filter="data")
        return
    root = Path(folder).resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        link = (target.parent / member.linkname).resolve() if member.issym() else \
            (root / member.linkname).resolve() if member.islnk() else target
        if member.isdev() or not (target.is_relative_to(root) and link.is_relative_to(root)):
            raise tarfile.TarError(f"{member.name!r} would be extracted outside {root}")
    tar.extractall(folder)


def unpack(source: BinaryIO, folder: Path, code: Path | None, where: str) -> None:
    """Extract the archive into `folder` (its entries at the folder's root, as SageMaker puts
    them in /opt/ml/model); `code`, when given, becomes `folder/code`."""
    with _open(source, where) as tar:
        extract_all(tar, folder)
    if code is not None:
        shutil.rmtree(folder / CODE, ignore_errors=True)
        shutil.copytree(code, folder / CODE)


def repack(source: BinaryIO, target: BinaryIO, code: Path, where: str) -> None:
    """Write `source` to `target` with `code` as its `code/` folder."""
    with _open(source, where) as tar, tarfile.open(fileobj=target, mode="w:gz") as out:
        for member in tar:
            if not _in_code(member.name):
                out.addfile(member, tar.extractfile(member) if member.isfile() else None)
        out.add(code, arcname=CODE)
