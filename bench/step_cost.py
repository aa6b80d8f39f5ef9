"""Where a training step's fixed cost comes from: DistilBERT steps timed one by one, split by
whether the batch's padded width is new to the process or seen before.

    python bench/step_cost.py [--arch distilbert-base] [--batch-size 32 256] [--widths 24]

Each setting runs in its own process (caches start empty): the default SDPA backends, and
cuDNN attention switched off. A step is train.py's step without Trainer: bf16 autocast where
the GPU has it, SDPA attention, fused AdamW, a padded batch with an attention mask. Widths are
multiples of 8 between 64 and 512; the first pass meets each width for the first time, the
second pass repeats them in the same order. Printed per setting and batch size: median ms per
step on new widths and on seen widths, and the attention kernels one step ran. The last line is
`RATIO new_width_step_cost <median new / median seen>` for the default backends.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

SETTINGS = {"default": {}, "no-cudnn-sdpa": {"cudnn_sdp": False}}


def measure(arch: str, batch_sizes: list[int], widths: int, cudnn_sdp: bool = True) -> dict:
    import numpy as np
    import torch
    from train_throughput import model_config
    from transformers import DistilBertForSequenceClassification

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cuda.enable_cudnn_sdp(cudnn_sdp)
    config = model_config(arch)
    config._attn_implementation = "sdpa"
    model = DistilBertForSequenceClassification(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    rng = np.random.default_rng(0)
    sizes = rng.permutation(np.arange(64, 513, 8))[:widths].tolist()

    def step(batch: int, width: int) -> float:
        lengths = rng.integers(width // 2, width + 1, batch)
        lengths[0] = width
        mask = torch.from_numpy((np.arange(width) < lengths[:, None]).astype(np.int64))
        ids = torch.randint(1000, 30000, (batch, width)) * mask
        labels = torch.randint(0, 2, (batch,))
        ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device, dtype=dtype, enabled=cuda):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000

    results = {}
    for batch in batch_sizes:
        step(batch, 8)  # CUDA context, cuBLAS handles, optimizer state
        new = [step(batch, width) for width in sizes]
        seen = [step(batch, width) for width in sizes]
        results[batch] = {"new": statistics.median(new), "seen": statistics.median(seen),
                          "kernels": attention_kernels(lambda b=batch: step(b, sizes[0]))
                          if cuda else []}
    return results


def attention_kernels(run_step) -> list[str]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run_step()
    words = ("attention", "fmha", "flash", "cudnn", "sdpa", "softmax")
    names = {e.key for e in prof.key_averages() if any(w in e.key.lower() for w in words)}
    return sorted(name[:90] for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("distilbert-base", "tiny"), default="distilbert-base")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--widths", type=int, default=24, help="distinct padded widths (max 57)")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.arch, args.batch_size, args.widths, **SETTINGS[args.child])))
        return
    default_ratio = None
    print(f"{'setting':<16}{'batch':>6}{'new ms':>10}{'seen ms':>10}{'new/seen':>10}  attention kernels")
    for setting in SETTINGS:
        cmd = [sys.executable, __file__, "--child", setting, "--arch", args.arch,
               "--widths", str(args.widths), "--batch-size", *map(str, args.batch_size)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"{setting} failed:\n{result.stderr[-3000:]}")
        for batch, r in json.loads(result.stdout.splitlines()[-1]).items():
            ratio = r["new"] / r["seen"]
            if setting == "default" and default_ratio is None:
                default_ratio = ratio
            print(f"{setting:<16}{batch:>6}{r['new']:>10.1f}{r['seen']:>10.1f}{ratio:>10.2f}  "
                  f"{'; '.join(r['kernels']) or 'n/a'}", flush=True)
    print(f"RATIO new_width_step_cost {default_ratio:.2f}")


if __name__ == "__main__":
    main()
