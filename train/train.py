"""Fine-tune a Transformers sequence classifier: the one training script for every mode.

It reads only the SageMaker training contract, so the same file runs unchanged under
`harness --mode local`, in SageMaker local-mode containers and on SageMaker itself:
- hyperparameters arrive as `--key value` arguments;
- data comes from `SM_CHANNEL_TRAIN` / `SM_CHANNEL_TEST` (datasets saved with `save_to_disk`,
  with a `labels` ClassLabel column); pretrained weights from `SM_CHANNEL_MODEL` when that
  channel exists, else from the hub id in `--model_name`;
- the model goes to `SM_MODEL_DIR`, metrics to `SM_OUTPUT_DATA_DIR`;
- when `/opt/ml/checkpoints` exists (SageMaker creates it for `checkpoint_s3_uri`; the toolkit's
  `SAGEMAKER_BASE_DIR` relocates `/opt/ml`), checkpoints are saved there and a restarted job
  resumes from the newest complete one.
Started by torchrun (several processes or hosts: `accelerate launch`, SageMaker's
torch_distributed), Trainer trains data-parallel and only process 0 writes the model and metrics.
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time

import numpy as np
import torch
from datasets import load_from_disk
from sm_training import (  # beside this script in source_dir
    MarkComplete,
    boolean,
    checkpoint_folder,
    latest_complete_checkpoint,
    leave_process_group,
    precision,
    read_contract,
    trainer_arguments,
)
from torch.distributed.elastic.multiprocessing.errors import record
from tqdm import tqdm
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

logger = logging.getLogger("train")
CONTRACT = ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max_steps", type=int, default=-1, help="if > 0, overrides --epochs")
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--eval_batch_size", type=int, default=64)
    parser.add_argument("--warmup_steps", type=int, default=0)
    parser.add_argument("--model_name", type=str, default="distilbert-base-uncased")
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--logging_steps", type=int, default=10)
    parser.add_argument("--checkpoint_steps", type=int, default=0,
                        help="with a checkpoint folder: save every N steps (0: every epoch)")
    # Speed. The defaults are the fast recipe; the guide's ("seed") recipe is
    # --precision fp32 --pad_to_max_length true --group_by_length false
    # --attn_implementation eager --optim adamw_torch.
    parser.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                        help="auto: bf16 where the GPU has it, fp16 on older GPUs, fp32 on CPU")
    parser.add_argument("--pad_to_max_length", type=boolean, default=False,
                        help="pad every batch to the tokenizer's max length, not the longest row")
    parser.add_argument("--pad_to_multiple_of", type=positive, default=8,
                        help="round each batch's padded width up to a multiple of this")
    parser.add_argument("--group_by_length", type=boolean, default=True,
                        help="batch rows of similar length together (less padding)")
    parser.add_argument("--attn_implementation", default="sdpa", choices=("sdpa", "eager"))
    parser.add_argument("--cudnn_attention", type=boolean, default=False,
                        help="let SDPA pick cuDNN's kernels, which build a graph per batch shape")
    parser.add_argument("--optim", default="auto",
                        help="auto: fused AdamW on GPU, plain AdamW on CPU; or any Trainer optim name")
    parser.add_argument("--torch_compile", type=boolean, default=False)
    parser.add_argument("--dataloader_num_workers", type=int, default=None,
                        help="default: 2 on GPU (collation off the training loop), 0 on CPU")
    return parser.parse_args(argv)


def positive(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return int(value)


def length_grouping(enabled: bool) -> dict:
    """Length-grouped batches, named as this transformers release names them (4.x or 5.x)."""
    if not enabled:
        return {}
    if "train_sampling_strategy" in TrainingArguments.__dataclass_fields__:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def collator(tokenizer, pad_to_max_length: bool, multiple: int):
    """Pad each batch to its longest row (rounded up to `multiple`), or, as the guide does,
    every batch to the tokenizer's maximum length."""
    if pad_to_max_length:
        return DataCollatorWithPadding(tokenizer, padding="max_length",
                                       max_length=tokenizer.model_max_length)
    return PadToLongest(tokenizer.pad_token_id, tokenizer.padding_side, multiple)


class EpochSeeded(torch.utils.data.Sampler):
    """A length-grouped order drawn from seed + epoch rather than the global RNG, so a job
    resumed mid-epoch, in any epoch, trains on the batches an unbroken one does (Trainer's
    sampler draws from the global RNG, which a resume restores too late to match)."""

    def __init__(self, sampler, seed: int, epoch):
        self.sampler, self.seed, self.epoch = sampler, seed, epoch

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        self.sampler.generator = torch.Generator().manual_seed(self.seed + self.epoch())
        return iter(self.sampler)


class ResumableTrainer(Trainer):
    def _get_train_sampler(self, *args, **kwargs):
        sampler = super()._get_train_sampler(*args, **kwargs)
        if isinstance(sampler, LengthGroupedSampler):
            return EpochSeeded(sampler, self.args.seed, lambda: int(self.state.epoch or 0))
        return sampler


class PadToLongest:
    """Pads rows of token ids to the batch's longest, rounded up to a multiple.
    numpy rather than tokenizer.pad: 128 IMDb-length rows take 2 ms instead of 28 ms."""

    def __init__(self, pad_token_id: int, padding_side: str, multiple: int):
        self.pad_token_id = pad_token_id or 0
        self.left = padding_side == "left"
        self.multiple = multiple

    def __call__(self, rows: list[dict]) -> dict:
        width = max(len(row["input_ids"]) for row in rows)
        width = -(-width // self.multiple) * self.multiple
        batch = {}
        for key, first in rows[0].items():
            if not isinstance(first, (list, np.ndarray)):
                batch[key] = torch.tensor([row[key] for row in rows])
                continue
            padded = np.full((len(rows), width), self.pad_token_id if key == "input_ids" else 0,
                             dtype=np.int64)
            for i, row in enumerate(rows):
                values = row[key]
                if self.left:
                    padded[i, width - len(values):] = values
                else:
                    padded[i, :len(values)] = values
            batch[key] = torch.from_numpy(padded)
        return batch


class Throughput(TrainerCallback):
    """Steady-state training samples/s: from the end of step `skip` (CUDA start-up, allocator
    warm-up and compilation behind it) to the last step, evaluation time left out."""

    def __init__(self, skip: int = 5):
        self.skip = skip
        self.start = self.end = None
        self.seen = self.steps = 0  # steps this process ran (a resumed job starts mid-way)
        self.paused = 0.0

    def _now(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seen += 1
        if self.seen == self.skip:
            self.start = self._now()
        elif self.seen > self.skip:
            self.steps += 1
            self.end = self._now() if state.global_step == state.max_steps else time.perf_counter()

    def on_evaluate(self, args, state, control, **kwargs):
        if self.end is not None and state.global_step < state.max_steps:
            self.paused += time.perf_counter() - self.end

    def samples_per_second(self, args) -> float | None:
        if not self.steps:
            return None
        samples = self.steps * args.train_batch_size * args.gradient_accumulation_steps
        return samples * args.world_size / (self.end - self.start - self.paused)


def value_text(value) -> str:
    """A logged value, 9 characters wide where it can be, so that lines align."""
    if isinstance(value, float):
        text = f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"
        return f"{text:>9}"
    return f"{value!s:>9}" if isinstance(value, int) else str(value)


def log_line(state, logs: dict) -> str:
    """One log entry as `<phase> step <n>/<total> epoch <e>` and `<name> <value>` pairs: lines
    of a phase align, and a metric regex like `eval_accuracy\\W+([-+0-9.eE]+)` finds values."""
    phase = ("eval" if any(key.startswith("eval_") for key in logs) else
             "done" if "train_runtime" in logs else "train")
    width = len(str(state.max_steps))
    head = (f"{phase:<5} step {state.global_step:>{width}}/{state.max_steps}  "
            f"epoch {logs.get('epoch', state.epoch or 0):5.2f}")
    pairs = [f"{key} {value_text(value)}" for key, value in logs.items()
             if key not in ("epoch", "total_flos", "step")]
    return "  ".join([head, *pairs])


class ProgressLog(TrainerCallback):
    """One progress bar per phase, with each log entry written above it as an aligned line
    (Trainer's default prints dicts between bars). An evaluation during training shows its
    progress on the training bar; one after training gets its own bar, cleared at the end."""

    def __init__(self):
        self.bar = self.eval_bar = None

    @staticmethod
    def _bar(**kwargs):
        return tqdm(file=sys.stdout, dynamic_ncols=True, mininterval=0.5, **kwargs)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = self._bar(total=state.max_steps, desc="training", unit="step")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if not state.is_world_process_zero or not hasattr(eval_dataloader, "__len__"):
            return
        if self.bar is not None:
            done = int(self.bar.postfix.split()[1].split("/")[0]) if self.bar.postfix else 0
            self.bar.set_postfix_str(f"evaluating {done + 1}/{len(eval_dataloader)}")
            return
        if self.eval_bar is None:
            self.eval_bar = self._bar(total=len(eval_dataloader), desc="evaluating",
                                      unit="batch", leave=False)
        self.eval_bar.update(1)

    def on_evaluate(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.set_postfix_str("")
        if self.eval_bar is not None:
            self.eval_bar.close()
            self.eval_bar = None

    on_predict = on_evaluate

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and logs):
            return
        if "train_runtime" in logs:  # training is over: its bar ends before its summary
            self.on_train_end(args, state, control)
        self.on_evaluate(args, state, control)
        tqdm.write(log_line(state, logs), file=sys.stdout)
        sys.stdout.flush()

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cpu_only() -> bool:
    """No GPU (CUDA or Apple's): say so, because only then does accelerate join several
    processes into one CPU (gloo) process group; otherwise each would train alone."""
    return not (torch.cuda.is_available() or torch.backends.mps.is_available())


def workers(count):
    return count if count is not None else (2 if torch.cuda.is_available() else 0)


def optimizer(choice: str) -> str:
    if choice != "auto":
        return choice
    return "adamw_torch_fused" if torch.cuda.is_available() else "adamw_torch"


def classification_metrics(eval_pred):
    logits, labels = eval_pred
    predictions = np.argmax(logits, axis=-1)
    classes = range(logits.shape[-1])
    # Binary tasks score the positive class (1), multi-class ones average over classes (macro).
    scored = [1] if logits.shape[-1] == 2 else list(classes)
    precision, recall, f1 = [], [], []
    for c in scored:
        tp = np.sum((predictions == c) & (labels == c))
        p = tp / max(np.sum(predictions == c), 1)
        r = tp / max(np.sum(labels == c), 1)
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return {"accuracy": float(np.mean(predictions == labels)), "f1": float(np.mean(f1)),
            "precision": float(np.mean(precision)), "recall": float(np.mean(recall))}


@record  # under torchrun: this process's traceback goes into torchrun's failure report
def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    env = read_contract(CONTRACT)
    source = os.environ.get("SM_CHANNEL_MODEL") or args.model_name
    logger.info("model %s, %s GPU(s)", source, os.environ.get("SM_NUM_GPUS", "0"))

    train_dataset = load_from_disk(env["SM_CHANNEL_TRAIN"])
    test_dataset = load_from_disk(env["SM_CHANNEL_TEST"])
    label_names = train_dataset.features["labels"].names
    logger.info("train %d rows, test %d rows, labels %s",
                len(train_dataset), len(test_dataset), label_names)

    set_seed(args.seed)  # before the classifier head is initialised: runs repeat exactly
    tokenizer = AutoTokenizer.from_pretrained(source)
    # Off by default: a cuDNN graph per new padded width costs ~150 ms (H100), several steps.
    torch.backends.cuda.enable_cudnn_sdp(args.cudnn_attention)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
        attn_implementation=args.attn_implementation,
    )
    throughput = Throughput()
    checkpoints = checkpoint_folder()
    scratch = None if checkpoints else tempfile.TemporaryDirectory(prefix="trainer-")
    training_args = TrainingArguments(
        **trainer_arguments(args, checkpoints, scratch),
        per_device_eval_batch_size=args.eval_batch_size,
        eval_strategy="epoch",
        logging_nan_inf_filter=False,  # its NaN check syncs host and GPU on every step
        **length_grouping(args.group_by_length),
        optim=optimizer(args.optim),
        torch_compile=args.torch_compile,
        dataloader_num_workers=workers(args.dataloader_num_workers),
        **precision(args.precision),
        use_cpu=cpu_only(),
        # A classifier's loss is a per-batch mean and DDP averages the gradients: global mean.
        # Trainer's token averaging (on by default) would scale it by the number of processes.
        average_tokens_across_devices=False,
    )
    logger.info("host %s of %s: process %d of %d (local %d)", os.environ.get("SM_CURRENT_HOST"),
                os.environ.get("SM_HOSTS"), training_args.process_index,
                training_args.world_size, training_args.local_process_index)
    trainer = ResumableTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=test_dataset,
        data_collator=collator(tokenizer, args.pad_to_max_length, args.pad_to_multiple_of),
        compute_metrics=classification_metrics,
        callbacks=[throughput, MarkComplete()],
    )
    for default in (ProgressCallback, PrinterCallback):
        trainer.remove_callback(default)
    trainer.add_callback(ProgressLog())
    resume = latest_complete_checkpoint(checkpoints)
    if resume:
        logger.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    eval_result = trainer.evaluate()
    eval_result["train_samples_per_second"] = throughput.samples_per_second(training_args)

    trainer.save_model(os.environ["SM_MODEL_DIR"])
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(os.environ["SM_MODEL_DIR"])
        out = env["SM_OUTPUT_DATA_DIR"]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "eval_results.txt"), "w") as f:
            f.writelines(f"{key} = {value}\n" for key, value in sorted(eval_result.items()))
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump(eval_result, f, indent=2)
        with open(os.path.join(out, "log_history.json"), "w") as f:
            json.dump(trainer.state.log_history, f, indent=2)
        width = max(len(key) for key in eval_result)
        logger.info("final metrics:\n%s", "\n".join(
            f"  {key:<{width}}  {value_text(value)}" for key, value in sorted(eval_result.items())
            if value is not None))
        logger.info("model saved to %s on host %s", os.environ["SM_MODEL_DIR"],
                    os.environ.get("SM_CURRENT_HOST"))


if __name__ == "__main__":
    main()
    leave_process_group()
