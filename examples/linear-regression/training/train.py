"""Fit a linear regression with gradient descent, written as SageMaker's script-mode docs
write a training script: hyperparameters as arguments, data from SM_CHANNEL_*, the model to
SM_MODEL_DIR, metrics as log lines and as metrics.json in SM_OUTPUT_DATA_DIR. Standard
library only, so it runs anywhere in seconds.

Data: CSV files, the target in the first column (as SageMaker's built-in algorithms read CSV)."""

import argparse
import glob
import json
import os


def read_rows(folder):
    targets, features = [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.csv"))):
        with open(path) as f:
            for line in f:
                if line.strip():
                    values = [float(v) for v in line.split(",")]
                    targets.append(values[0])
                    features.append(values[1:])
    if not targets:
        raise ValueError(f"no CSV rows in {folder}")
    return targets, features


def predict(model, row):
    return sum(w * x for w, x in zip(model["weights"], row, strict=True)) + model["bias"]


def mse(model, targets, features):
    return sum((predict(model, x) - y) ** 2 for y, x in zip(targets, features, strict=True)) / len(targets)


def fit(targets, features, epochs, learning_rate):
    model = {"weights": [0.0] * len(features[0]), "bias": 0.0}
    n = len(targets)
    for epoch in range(1, epochs + 1):
        errors = [predict(model, x) - y for y, x in zip(targets, features, strict=True)]
        for i in range(len(model["weights"])):
            gradient = 2 * sum(e * x[i] for e, x in zip(errors, features, strict=True)) / n
            model["weights"][i] -= learning_rate * gradient
        model["bias"] -= learning_rate * 2 * sum(errors) / n
        print(f"epoch={epoch} train_mse={sum(e * e for e in errors) / n:.6f}", flush=True)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAINING"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--output-data-dir", default=os.environ.get("SM_OUTPUT_DATA_DIR"))
    args = parser.parse_args()

    targets, features = read_rows(args.train)
    model = fit(targets, features, args.epochs, args.learning_rate)
    metrics = {"train_mse": mse(model, targets, features)}
    if args.validation:
        metrics["validation_mse"] = mse(model, *read_rows(args.validation))
        print(f"validation_mse={metrics['validation_mse']:.6f}", flush=True)
    with open(os.path.join(args.model_dir, "model.json"), "w") as f:
        json.dump(model, f)
    if args.output_data_dir:  # becomes output.tar.gz
        with open(os.path.join(args.output_data_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f)


if __name__ == "__main__":
    main()
