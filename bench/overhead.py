"""harness's overhead in local mode: `harness train` against `accelerate launch train/train.py`
run directly on the same prepared data, alternated, in one run.

    python bench/overhead.py [--rounds 3] [-c configs/default.yaml]

Both sides train the same config from the same channels; harness adds the SageMaker tree,
the toolkit's environment, packing model.tar.gz/output.tar.gz, fetching the metrics and the
plot. The last line is `RATIO local_overhead <median harness wall / median direct wall>`
(target: <= 1.03).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict | None = None) -> float:
    started = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default=str(REPO / "configs" / "default.yaml"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        harness = [sys.executable, "-m", "harness"]
        common = ["-c", args.config, "--set", f"run_dir={scratch}/run"]
        subprocess.run([*harness, "prepare", *common], check=True, stdout=subprocess.DEVNULL)
        state = json.loads((Path(scratch) / "run" / "state.json").read_text())
        from harness.job import open_job

        job = open_job(args.config, [f"run_dir={scratch}/run"], "local")
        script = job.config.resolve(job.config.source_dir) / job.config.entry_point
        direct_args = [f"--{k}={v}" for k, v in sorted(job.hyperparameters().items())]
        env = {**os.environ, "SM_MODEL_DIR": f"{scratch}/direct/model",
               "SM_OUTPUT_DATA_DIR": f"{scratch}/direct/data", "SM_NUM_GPUS": "0",
               **{f"SM_CHANNEL_{name.upper()}": uri for name, uri in state["channels"].items()}}
        direct = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1",
                  "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                  "--num_cpu_threads_per_process", str(os.cpu_count()), str(script), *direct_args]
        walls = {"harness": [], "direct": []}
        for round_ in range(args.rounds):
            walls["harness"].append(timed([*harness, "train", *common]))
            walls["direct"].append(timed(direct, env))
            print(f"round {round_ + 1}: harness train {walls['harness'][-1]:.2f} s, "
                  f"direct accelerate launch {walls['direct'][-1]:.2f} s")
    medians = {side: statistics.median(values) for side, values in walls.items()}
    print(f"median: harness {medians['harness']:.2f} s, direct {medians['direct']:.2f} s, "
          f"overhead {medians['harness'] - medians['direct']:.2f} s")
    print(f"RATIO local_overhead {medians['harness'] / medians['direct']:.3f}")


if __name__ == "__main__":
    main()
