"""Fine-tune a Transformers sequence classifier: the one training script for every mode.

It reads only the SageMaker training contract, so the same file runs unchanged under
`harness --mode local`, in SageMaker local-mode containers and on SageMaker itself:
- hyperparameters arrive as `--key value` arguments;
- data comes from `SM_CHANNEL_TRAIN` / `SM_CHANNEL_TEST` (datasets saved with `save_to_disk`,
  with a `labels` ClassLabel column); pretrained weights from `SM_CHANNEL_MODEL` when that
  channel exists, else from the hub id in `--model_name`;
- the model goes to `SM_MODEL_DIR`, metrics to `SM_OUTPUT_DATA_DIR`.
"""

import argparse
import json
import logging
import os
import sys
import tempfile

import numpy as np
from datasets import load_from_disk
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)

logger = logging.getLogger("train")
CONTRACT = ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--eval_batch_size", type=int, default=64)
    parser.add_argument("--warmup_steps", type=int, default=0)
    parser.add_argument("--model_name", type=str, default="distilbert-base-uncased")
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--logging_steps", type=int, default=10)
    return parser.parse_args(argv)


def read_contract():
    missing = [name for name in CONTRACT if not os.environ.get(name)]
    if missing:
        sys.exit(f"train.py: missing SageMaker environment variables: {', '.join(missing)}. "
                 "Run it through harness or a SageMaker training container.")
    return {name: os.environ[name] for name in CONTRACT}


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


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    env = read_contract()
    source = os.environ.get("SM_CHANNEL_MODEL") or args.model_name
    logger.info("model %s, %s GPU(s)", source, os.environ.get("SM_NUM_GPUS", "0"))

    train_dataset = load_from_disk(env["SM_CHANNEL_TRAIN"])
    test_dataset = load_from_disk(env["SM_CHANNEL_TEST"])
    label_names = train_dataset.features["labels"].names
    logger.info("train %d rows, test %d rows, labels %s",
                len(train_dataset), len(test_dataset), label_names)

    set_seed(args.seed)  # before the classifier head is initialised: runs repeat exactly
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )
    training_args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="trainer-"),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.train_batch_size,
        per_device_eval_batch_size=args.eval_batch_size,
        warmup_steps=args.warmup_steps,
        learning_rate=args.learning_rate,
        seed=args.seed,
        eval_strategy="epoch",
        logging_steps=args.logging_steps,
        save_strategy="no",
        report_to="none",
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=test_dataset,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=classification_metrics,
    )
    trainer.train()
    eval_result = trainer.evaluate()

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
        logger.info("eval %s", json.dumps(eval_result))


if __name__ == "__main__":
    main()
