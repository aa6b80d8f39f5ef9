"""harness's overhead in local mode: `harness train` against `accelerate launch train/train.py`
run directly on the same prepared data, alternated, in one run.

    python bench/overhead.py [--rounds 6] [--fixed-rounds 8] [-c configs/default.yaml]

Both sides train the same config from the same channels; harness adds the SageMaker tree,
the toolkit's environment, packing model.tar.gz/output.tar.gz, fetching the metrics and the
plot. Rounds alternate which side goes first (ABBA), so drift in the machine's speed falls on
both. Per side it prints wall time and CPU time (user + system, the process and its children).

Single runs of the default config vary by ±10% on a shared 2-core machine, more than the
target. So the bench also measures harness's fixed cost per job alone: both sides run a replay
script in place of train.py, which copies the last harness run's model and output files into
place in a fraction of a second. harness still lays out the tree, computes the toolkit's
environment, packs the same 90 MB model and plots the same curves, and the short runs carry
little noise. It prints the ratio that cost gives on the full config.

The last line is `RATIO local_overhead <median harness wall / median direct wall>` on the
config (target: <= 1.03).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Stands in for train.py: the model and output files of a finished job, copied into place.
REPLAY = """
import os, shutil
finished = os.environ["OVERHEAD_BENCH_FINISHED_JOB"]
shutil.copytree(os.path.join(finished, "model"), os.environ["SM_MODEL_DIR"], dirs_exist_ok=True)
shutil.copytree(os.path.join(finished, "data"), os.environ["SM_OUTPUT_DATA_DIR"],
                dirs_exist_ok=True)
"""


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and all its children)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{cmd[:4]}... failed (wait status {status}); run it by hand to see why")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime


def sides(config: str, scratch: str, overrides: list[str]) -> dict[str, tuple]:
    """Per side: (command, environment, the metrics.json it writes). Both train the same config
    (plus `overrides`) from the same channels."""
    from harness.job import open_job
    from harness.modes.local.mode import launch_command

    sets = [f"run_dir={scratch}/run", *overrides]
    state = json.loads((Path(scratch) / "run" / "state.json").read_text())
    job = open_job(config, sets, "local")
    script = job.config.resolve(job.config.source_dir) / job.config.entry_point
    direct_args = [f"--{k}={v}" for k, v in sorted(job.hyperparameters().items())]
    env = {"SM_MODEL_DIR": f"{scratch}/direct/model",
           "SM_OUTPUT_DATA_DIR": f"{scratch}/direct/data", "SM_NUM_GPUS": "0",
           **{f"SM_CHANNEL_{name.upper()}": uri for name, uri in state["prepared"]["channels"].items()}}
    return {
        "harness": ([sys.executable, "-m", "harness", "train", "-c", config,
                     *(arg for value in sets for arg in ("--set", value))], {**os.environ},
                    Path(scratch) / "run" / "output" / "data" / "metrics.json"),
        "direct": ([*launch_command(1, os.cpu_count()), str(script), *direct_args],
                   {**os.environ, **env},
                   Path(scratch) / "direct" / "data" / "metrics.json"),
    }


def replaying(commands: dict, finished: Path) -> dict:
    """The same commands, with `OVERHEAD_BENCH_FINISHED_JOB` set for the replay script."""
    return {side: (cmd, {**env, "OVERHEAD_BENCH_FINISHED_JOB": str(finished)}, metrics)
            for side, (cmd, env, metrics) in commands.items()}


def alternate(commands: dict, rounds: int, label: str) -> dict[str, dict[str, list[float]]]:
    """Run both sides `rounds` times, ABBA; per side, lists of wall s, CPU s and the samples/s
    train.py measured (its steady state, without start-up and evaluation)."""
    runs = {side: {"wall": [], "cpu": [], "speed": []} for side in commands}
    for round_ in range(rounds):
        order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
        for side in order:
            cmd, env, metrics = commands[side]
            wall, cpu = timed(cmd, env)
            speed = json.loads(metrics.read_text()).get("train_samples_per_second", 0.0)
            for key, value in (("wall", wall), ("cpu", cpu), ("speed", speed)):
                runs[side][key].append(value)
        print(f"{label} round {round_ + 1} ({order[0]} first): " + ", ".join(
            f"{side} {runs[side]['wall'][-1]:.2f} s wall, {runs[side]['cpu'][-1]:.1f} s CPU"
            for side in commands), flush=True)
    return runs


def median(runs: dict, side: str, key: str) -> float:
    return statistics.median(runs[side][key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default=str(REPO / "configs" / "default.yaml"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--fixed-rounds", type=int, default=8,
                        help="rounds of the replay that measures harness's fixed cost")
    args = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "harness", "prepare", "-c", args.config,
                        "--set", f"run_dir={scratch}/run"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        full = alternate(sides(args.config, scratch, []), args.rounds, "config")
        finished = Path(scratch) / "finished"
        shutil.copytree(Path(scratch) / "run" / "job" / "model", finished / "model")
        shutil.copytree(Path(scratch) / "run" / "output" / "data", finished / "data")
        (Path(scratch) / "replay").mkdir()
        (Path(scratch) / "replay" / "replay.py").write_text(REPLAY)
        replay = [f"source_dir={scratch}/replay", "entry_point=replay.py"]
        fixed = alternate(replaying(sides(args.config, scratch, replay), finished),
                          args.fixed_rounds, "replay")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    cost = median(fixed, "harness", "wall") - median(fixed, "direct", "wall")
    print(f"fixed cost (replay, median wall): harness {median(fixed, 'harness', 'wall'):.2f} s, "
          f"direct {median(fixed, 'direct', 'wall'):.2f} s, harness adds {cost:+.2f} s per job")
    wall = {side: median(full, side, "wall") for side in full}
    print(f"config, median wall: harness {wall['harness']:.2f} s, direct {wall['direct']:.2f} s "
          f"({wall['harness'] - wall['direct']:+.2f} s); median CPU: "
          f"{median(full, 'harness', 'cpu'):.1f} s against {median(full, 'direct', 'cpu'):.1f} s")
    print(f"train.py's own samples/s, median: harness {median(full, 'harness', 'speed'):.1f}, "
          f"direct {median(full, 'direct', 'speed'):.1f}")
    print(f"direct + fixed cost, as a ratio: {(wall['direct'] + cost) / wall['direct']:.3f}")
    print(f"RATIO local_overhead {wall['harness'] / wall['direct']:.3f}")


if __name__ == "__main__":
    main()
