"""A code folder's `requirements.txt`, as the SageMaker toolkits treat it.

In a container, the training and inference toolkits run `python -m pip install -r
requirements.txt` before the user's code starts. `local` mode runs in this Python environment,
which harness must not change behind the user's back: it checks each requirement instead, and
installs them only when asked to.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from harness.errors import HarnessError
from harness.serving.user_code import REQUIREMENTS as FILE
from harness.serving.user_code import install_command

# Lines that name requirements though they start with a dash: what they install is unknown
# until pip installs it. Other option lines (--index-url, --find-links, --no-index, ...) say
# where pip looks and name none.
NAMING_OPTIONS = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")


def unmet(requirements: Path) -> list[str]:
    """The requirements this environment does not satisfy, each with what is installed."""
    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for line in requirements.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#") or \
                line.startswith("-") and not line.startswith(NAMING_OPTIONS):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:  # -e, -r, a path or a URL: nothing to compare
            found.append(f"{line} (cannot be checked; install it)")
            continue
        if requirement.marker and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            found.append(f"{line} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            found.append(f"{line} (installed: {installed})")
    return found


def ensure(folder: Path, *, install: bool, flag: str = "--install-requirements") -> None:
    """Check `folder/requirements.txt` against this environment (no file: nothing to do), or
    install it with pip when `install` is set, as a container's toolkit would."""
    requirements = folder / FILE
    if not requirements.is_file():
        return
    if install:
        # In the folder, as the toolkit runs it: relative paths in the file mean the same.
        if subprocess.run(install_command(requirements), cwd=folder).returncode != 0:
            raise HarnessError(f"pip could not install {requirements}",
                               "see pip's output above")
        return
    missing = unmet(requirements)
    if missing:
        lines = "\n".join(f"    {item}" for item in missing)
        raise HarnessError(
            f"{requirements} is not met by this Python environment ({sys.executable}):\n{lines}",
            f"{' '.join(install_command(requirements))}, or pass {flag} (containers install "
            "it themselves)")
