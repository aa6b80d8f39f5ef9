"""`harness doctor`: what harness needs from this machine, one line per check, each with its fix."""

from __future__ import annotations

from harness import machine, modes
from harness.config import load_config


def doctor(config_path: str | None, mode_flag: str | None) -> tuple[list[machine.Result], bool]:
    """Every check's result, and whether all that the chosen mode needs passed."""
    mode = modes.choose(mode_flag)
    found = machine.Machine(load_config(config_path, []), mode)
    results = [machine.run_check(check, found) for check in machine.checks(found)]
    return results, all(r.ok for r in results if r.needed)


def line(result: machine.Result) -> str:
    mark = "✔" if result.ok else "✘"
    text = f"{mark} {result.name}: {result.found}"
    if not result.ok:
        text += f" (fix: {result.fix})" if result.fix else ""
        text += "" if result.needed else " [not needed by this mode]"
    return text
