"""`harness init [DIR]`: a starter project written the SageMaker way, copied from the one
harness ships (examples/linear-regression): its config, training script, inference.py,
sample data and tests that use harness's pytest fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.errors import HarnessError
from harness.project import repo_file

STARTER = "examples/linear-regression"
# Not part of a new project: the example's README speaks of harness's checkout, and what
# a run or pytest left behind in the example.
LEFT_OUT = {"README.md", "runs", ".pytest_cache", "__pycache__"}


def starter_files() -> dict[Path, Path]:
    """Each file of the starter project by its path relative to the project's root."""
    root = repo_file(STARTER)
    return {path.relative_to(root): path for path in sorted(root.rglob("*"))
            if path.is_file() and not LEFT_OUT & set(path.relative_to(root).parts)
            and path.suffix != ".pyc"}


def init(target: Path, force: bool) -> list[Path]:
    """Write the starter project into `target`; return the files written, relative to it.
    Existing files are an error unless `force`."""
    files = starter_files()
    existing = [relative for relative in files if (target / relative).exists()]
    if existing and not force:
        names = ", ".join(str(relative) for relative in existing)
        raise HarnessError(f"{target} already has {names}",
                           "pass --force to overwrite them, or give another folder: "
                           "harness init DIR")
    for relative, source in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / relative)
    return list(files)
