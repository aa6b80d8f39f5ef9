"""SFT training throughput: train/sft.py's recipe against its variants and TRL's defaults,
side by side, in one run.

    python bench/sft_throughput.py [--model tiny] [--device cpu|cuda] [--steps 30]
        [--batch-size 4] [--max-seq-length 256] [--cpu-threads 1] [--only NAME ...]

Every run is train/sft.py itself, under the SageMaker environment contract, for the same
number of steps on the same synthetic conversations (1 to 6 turns of the question/answer pairs
in data/sft/, so lengths vary as real chats do). The runs:

- `recipe`: sft.py's defaults (LoRA r=16 on all linear layers, packing, gradient checkpointing,
  bf16 where the GPU has it, QLoRA where CUDA and bitsandbytes are present);
- `no-packing`, `no-grad-ckpt`, `full-ft` (every weight trained, no LoRA), `fp32` / `bf16`
  (the other precision, where the device has bf16): the recipe with one switch flipped;
- `trl-defaults`: what a plain SFTTrainer script gets from TRL's SFTConfig: full fine-tuning,
  no packing, gradient checkpointing, bf16.

`--model tiny` (the default) is sft.py's offline 2-layer Llama; on a GPU pass a hub id or a
folder, e.g. `--model Qwen/Qwen2.5-0.5B-Instruct --device cuda --batch-size 8
--max-seq-length 1024` (random weights would do: throughput does not depend on them).

Printed per run: s/step (the median step after the first two: a shared machine's spikes and
start-up left out), tokens/s (real tokens per step, TRL's `num_tokens`, padding left out,
over that), peak memory (CUDA: max allocated; CPU: the process's peak RSS, torch and Python included), model
FLOP utilisation where the GPU's peak is known (6 x parameters x tokens/s), the final loss,
and each run's tokens/s against the recipe's. The last line is
`RATIO sft_throughput <recipe tokens/s / trl-defaults tokens/s>`.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SFT = REPO / "train" / "sft.py"
PAIRS = REPO / "data" / "sft" / "train.jsonl"
WARMUP_STEPS = 2  # left out of the step time: the first steps allocate and warm caches
PEAK_TFLOPS = {"H100": 989, "H200": 989, "A100": 312, "A10G": 125, "L4": 121, "T4": 65,
               "V100": 125}  # dense bf16/fp16 tensor-core peaks

# Runs train/sft.py as its own process would, then writes what only the process can know: the
# time of each optimizer step, its peak memory and the parameter count of the model trained.
RUNNER = """
import json, os, resource, runpy, sys, time
import torch, transformers

seen = {"step_ends": []}
class StepTimes(transformers.TrainerCallback):
    def on_step_begin(self, args, state, control, **kwargs):
        seen.setdefault("first_step_begin", time.perf_counter())
    def on_step_end(self, args, state, control, **kwargs):
        seen["step_ends"].append(time.perf_counter())
train = transformers.Trainer.train
def measured_train(self, *args, **kwargs):
    seen["parameters"] = sum(p.numel() for p in self.model.parameters())
    self.add_callback(StepTimes())
    return train(self, *args, **kwargs)
transformers.Trainer.train = measured_train
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
if torch.cuda.is_available():
    seen["peak_memory_bytes"] = torch.cuda.max_memory_allocated()
else:
    seen["peak_memory_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with open(os.environ["BENCH_MEASURES"], "w") as f:
    json.dump(seen, f)
"""


def conversations(rows: int, seed: int) -> list[dict]:
    """Chats of 1 to 6 question/answer turns drawn from data/sft/."""
    pairs = [json.loads(line)["messages"] for line in PAIRS.read_text().splitlines()]
    rng = random.Random(seed)
    return [{"messages": [turn for pair in rng.choices(pairs, k=rng.randint(1, 6))
                          for turn in pair]} for _ in range(rows)]


def variants(bf16: bool) -> list[tuple[str, dict]]:
    """(name, sft.py hyperparameters): the recipe, one switch flipped at a time, TRL's defaults."""
    runs = [("recipe", {}), ("no-packing", {"packing": False}),
            ("no-grad-ckpt", {"gradient_checkpointing": False}), ("full-ft", {"use_lora": False})]
    runs.append(("fp32", {"precision": "fp32"}) if bf16 else ("bf16", {"precision": "bf16"}))
    runs.append(("trl-defaults", {"use_lora": False, "packing": False,
                                  "gradient_checkpointing": True, "precision": "bf16"}))
    return runs


def run(name: str, hyperparameters: dict, scratch: Path, args) -> dict:
    out = scratch / name
    env = {**os.environ, "SM_MODEL_DIR": str(out / "model"), "SM_OUTPUT_DATA_DIR": str(out / "data"),
           "SM_CHANNEL_TRAIN": str(scratch / "train"), "BENCH_MEASURES": str(out / "measures.json"),
           "SM_NUM_GPUS": "1" if args.device == "cuda" else "0"}
    for key in ("SM_CHANNEL_TEST", "SM_CHANNEL_MODEL"):
        env.pop(key, None)
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["OMP_NUM_THREADS"] = str(args.cpu_threads)
    hps = {"model_name": args.model, "max_steps": args.steps, "train_batch_size": args.batch_size,
           "max_seq_length": args.max_seq_length, "logging_steps": args.steps,
           "warmup_steps": 0, **hyperparameters}
    if args.model == "tiny":  # a random base knows no tokens: what sft-tiny.yaml trains in full
        hps.setdefault("lora_modules_to_save", "embed_tokens,lm_head")
    cmd = [sys.executable, "-c", RUNNER, str(SFT)]
    for key, value in hps.items():
        cmd += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    out.mkdir(parents=True)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the {name} run failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    metrics = json.loads((out / "data" / "metrics.json").read_text())
    history = json.loads((out / "data" / "log_history.json").read_text())
    tokens = max(entry.get("num_tokens", 0) for entry in history)
    measures = json.loads((out / "measures.json").read_text())
    ends = [measures["first_step_begin"], *measures["step_ends"]]
    durations = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    step_s = statistics.median(durations[WARMUP_STEPS:])
    return {"tokens_per_s": tokens / args.steps / step_s, "s_per_step": step_s,
            "peak_memory_gib": measures["peak_memory_bytes"] / 2**30,
            "parameters": measures["parameters"], "loss": metrics["train_loss"]}


def device_facts(device: str) -> tuple[str, bool, float | None]:
    """The device's name, whether it has bf16, and its peak FLOP/s where known."""
    import torch

    if device == "cpu":
        return "CPU", False, None
    if not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device here")
    name = torch.cuda.get_device_name()
    peak = next((tflops * 1e12 for gpu, tflops in PEAK_TFLOPS.items() if gpu in name), None)
    return name, torch.cuda.is_bf16_supported(), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="`tiny` (offline), a hub id or a folder")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--steps", type=int, default=30, help="at least 4")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--cpu-threads", type=int, default=1,
                        help="torch threads on CPU (1: steadiest where other work shares the "
                             "cores; spinning threads slow down many times when outnumbered)")
    parser.add_argument("--rows", type=int, default=2000, help="synthetic conversations")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="these runs only (recipe is always run: the ratios are against it)")
    args = parser.parse_args()
    device, bf16, peak = device_facts(args.device)
    runs = [(name, hps) for name, hps in variants(bf16)
            if args.only is None or name == "recipe" or name in args.only]
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        (scratch / "train").mkdir()
        (scratch / "train" / "chats.jsonl").write_text(
            "".join(json.dumps(row) + "\n" for row in conversations(args.rows, seed=1)))
        threads = f", {args.cpu_threads} thread(s)" if args.device == "cpu" else ""
        print(f"sft.py on {args.model}, {args.steps} steps, batch {args.batch_size}, "
              f"max_seq_length {args.max_seq_length}, on {device}{threads}")
        print(f"{'run':<14}{'tokens/s':>10}{'s/step':>9}{'peak GiB':>10}{'MFU':>7}{'loss':>8}"
              f"{'vs recipe':>11}", flush=True)
        results = {}
        for name, hps in runs:  # each row as it lands: a long run can be cut short
            r = results[name] = run(name, hps, scratch, args)
            mfu = f"{6 * r['parameters'] * r['tokens_per_s'] / peak:.1%}" if peak else "n/a"
            ratio = r["tokens_per_s"] / results["recipe"]["tokens_per_s"]
            print(f"{name:<14}{r['tokens_per_s']:>10.0f}{r['s_per_step']:>9.3f}"
                  f"{r['peak_memory_gib']:>10.2f}{mfu:>7}{r['loss']:>8.3f}{ratio:>10.2f}x",
                  flush=True)
    if "trl-defaults" in results:
        ratio = results["recipe"]["tokens_per_s"] / results["trl-defaults"]["tokens_per_s"]
        print(f"RATIO sft_throughput {ratio:.2f}")


if __name__ == "__main__":
    main()
