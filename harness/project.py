"""Where the files that commands use live: the source checkout, or, in an installed wheel,
harness/_bundled/ (setup.py copies them there): the image's build context, the emulator's
compose file, the bundled train.py, the default config with its data, and the starter project
of `harness init` (examples/linear-regression)."""

from pathlib import Path

from harness.errors import HarnessError

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent
IN_CHECKOUT = (CHECKOUT / "container" / "Dockerfile").is_file()
ROOT = CHECKOUT if IN_CHECKOUT else PACKAGE / "_bundled"


def repo_file(relative: str) -> Path:
    path = ROOT / relative
    if not path.exists():
        raise HarnessError(f"{relative} not found under {ROOT}",
                           "reinstall harness (pip install --force-reinstall <wheel>), or use a "
                           "source checkout (git clone, then pip install -e .)")
    return path
