"""Fit y = a*x + b with PyTorch, written as SageMaker's script-mode samples write a training
script. It knows nothing of harness: argparse hyperparameters, its own channel names
(`training`, and `validation` when given), the model saved to SM_MODEL_DIR with its serving
code in `code/`, metrics printed as log lines, no metrics.json."""

import argparse
import glob
import logging
import os
import shutil
import sys

import harness_probe_dep  # from requirements.txt: installed by the toolkit (or by hand)
import torch

logger = logging.getLogger(__name__)


def read_points(folder):
    xs, ys = [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.csv"))):
        with open(path) as rows:
            for line in rows:
                x, y = line.strip().split(",")
                xs.append(float(x))
                ys.append(float(y))
    return torch.tensor(xs).unsqueeze(1), torch.tensor(ys).unsqueeze(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--training", default=os.environ["SM_CHANNEL_TRAINING"])
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args = parser.parse_args()

    torch.manual_seed(0)
    x, y = read_points(args.training)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(1, args.num_epochs + 1):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        logger.info("epoch=%d train_loss=%.6f", epoch, loss.item())
    if args.validation:
        vx, vy = read_points(args.validation)
        with torch.no_grad():
            mse = torch.nn.functional.mse_loss(model(vx), vy).item()
        logger.info("Test set: Average loss: %.6f", mse)

    torch.save(model.state_dict(), os.path.join(args.model_dir, "model.pth"))
    code = os.path.join(args.model_dir, "code")
    os.makedirs(code, exist_ok=True)
    shutil.copy(os.path.join(os.path.dirname(__file__), "inference.py"), code)
    with open(os.path.join(args.model_dir, "dependency.txt"), "w") as f:
        f.write(harness_probe_dep.VERSION)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    main()
