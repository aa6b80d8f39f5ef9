"""Files of the harness source checkout that commands use: the image and the emulator."""

from pathlib import Path

from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parents[1]


def repo_file(relative: str) -> Path:
    path = ROOT / relative
    if not path.exists():
        raise HarnessError(f"{relative} not found under {ROOT}",
                           "this command needs a source checkout of harness "
                           "(git clone, then pip install -e .)")
    return path
