"""What the bundled recipes (train.py, sft.py) share, read from the SageMaker training
contract alone: its environment, checkpoints as SageMaker keeps them under /opt/ml/checkpoints,
and the Trainer's precision flags. It ships beside them in source_dir, so it reaches the
training container with them; it imports nothing from harness."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys

import torch
from transformers import TrainerCallback

logger = logging.getLogger("train")
COMPLETE = "checkpoint-complete"  # written last: a checkpoint without it is half-written


def read_contract(names: tuple[str, ...]) -> dict[str, str]:
    """The contract's environment variables `names`; a missing one stops the script, naming it."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        program = os.path.basename(sys.argv[0])
        sys.exit(f"{program}: missing SageMaker environment variables: {', '.join(missing)}. "
                 "Run it through harness or a SageMaker training container.")
    return {name: os.environ[name] for name in names}


def boolean(value: str) -> bool:
    """SageMaker passes booleans as `True`/`False`; accept the usual spellings."""
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def precision(choice: str) -> dict:
    """TrainingArguments flags for the chosen precision."""
    if choice == "auto":
        if not torch.cuda.is_available():
            choice = "fp32"
        else:
            choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"  # V100, T4: fp16
    return {"bf16": choice == "bf16", "fp16": choice == "fp16"}


def checkpoint_folder() -> str | None:
    folder = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "checkpoints")
    return folder if os.path.isdir(folder) else None


def latest_complete_checkpoint(folder: str | None) -> str | None:
    """The newest `checkpoint-N` holding the completion mark; half-written ones are removed."""
    if not folder:
        return None
    found = sorted((int(m.group(1)), name) for name in os.listdir(folder)
                   if (m := re.fullmatch(r"checkpoint-(\d+)", name)))
    complete = [name for _, name in found if os.path.exists(os.path.join(folder, name, COMPLETE))]
    for _, name in found:
        if name not in complete:
            logger.warning("removing the incomplete checkpoint %s", name)
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    return os.path.join(folder, complete[-1]) if complete else None


def checkpointing(folder: str | None, every_steps: int) -> dict:
    """TrainingArguments for saving into the checkpoint folder (nothing saved without one)."""
    if not folder:
        return {"save_strategy": "no"}
    strategy = {"save_strategy": "steps", "save_steps": every_steps} if every_steps > 0 else \
        {"save_strategy": "epoch"}
    return {**strategy, "save_total_limit": 2}


class MarkComplete(TrainerCallback):
    """Marks each checkpoint complete once the Trainer has written all of it."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            with open(os.path.join(path, COMPLETE), "w") as f:
                f.write(str(state.global_step))


def trainer_arguments(args, checkpoints: str | None, scratch) -> dict:
    """The Trainer arguments both recipes take from the same hyperparameters, saving into the
    checkpoint folder, else into `scratch` (a TemporaryDirectory: the Trainer still wants an
    output_dir, and this one is removed on exit)."""
    return {"output_dir": checkpoints or scratch.name, "num_train_epochs": args.epochs,
            "max_steps": args.max_steps, "per_device_train_batch_size": args.train_batch_size,
            "warmup_steps": args.warmup_steps, "learning_rate": args.learning_rate,
            "seed": args.seed, "logging_steps": args.logging_steps,
            **checkpointing(checkpoints, args.checkpoint_steps), "report_to": "none"}


def leave_process_group() -> None:
    """Wait for every process, then leave the process group, where there is one: a process
    that exits with its group still up can abort at exit (gloo's threads)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
