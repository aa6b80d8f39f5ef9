"""Time each step of the flow (no thresholds): `python bench/flow_steps.py [--mode M] [-c CONFIG]`.

Runs `harness run` in a scratch run dir and prints the seconds per step as recorded by
harness, plus the share of the total, so later changes can be compared side by side.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default="configs/default.yaml")
    parser.add_argument("--mode", default="local")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "harness", "run", "-c", args.config,
                        "--mode", args.mode, "--set", f"run_dir={scratch}/run",
                        "--set", f"endpoint.port={args.port}"],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.monotonic() - started
        state = json.loads((Path(scratch) / "run" / "state.json").read_text())
    timings = state["timings"]
    total = sum(timings.values())
    print(f"{'step':<10}{'seconds':>10}{'share':>8}")
    for step, seconds in timings.items():
        print(f"{step:<10}{seconds:>10.2f}{seconds / total:>8.1%}")
    print(f"{'steps':<10}{total:>10.2f}")
    print(f"{'wall':<10}{wall:>10.2f}   (includes CLI start-up and imports)")
    print(f"eval_accuracy {state['metrics']['eval_accuracy']:.4f}")


if __name__ == "__main__":
    main()
