"""A training script of the user's own (code/), written as SageMaker's docs write one, and
the data and config it runs with. Nothing here follows a harness convention."""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path

import pytest
import yaml

from harness.host.endpoint_process import free_port
from tests.support.runs import pure_wheel

CODE = Path(__file__).parent / "code"
SCRIPT = "train_linear.py"
EPOCHS = 40
METRICS = [{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
           {"Name": "validation:mse", "Regex": r"Test set: Average loss: ([0-9.]+)"}]
DEPENDENCY = ("harness_probe_dep", "1.0")  # what code/requirements.txt asks for


def build_wheel(folder: Path) -> Path:
    """A pure-Python wheel of the dependency."""
    name, version = DEPENDENCY
    return pure_wheel(folder, name, version, f'VERSION = "{version}"\n')


@pytest.fixture
def user_code(tmp_path) -> Path:
    """code/ with the wheel its requirements.txt installs from."""
    folder = tmp_path / "code"
    shutil.copytree(CODE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    build_wheel(folder / "wheels")
    return folder


def points(seed: int, count: int) -> str:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        x = rng.uniform(-1, 1)
        rows.append(f"{x:.4f},{2 * x + 1 + rng.gauss(0, 0.05):.4f}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def user_data(tmp_path) -> dict[str, Path]:
    """Two channels of CSV points on y = 2x + 1."""
    folders = {}
    for channel, seed, count in (("training", 1, 64), ("validation", 2, 16)):
        folders[channel] = tmp_path / "data" / channel
        folders[channel].mkdir(parents=True)
        (folders[channel] / "points.csv").write_text(points(seed, count))
    return folders


def write_user_config(folder: Path, code: Path, inputs: dict[str, str], **extra) -> Path:
    config = {"name": "linear-fit", "framework": "pytorch",
              "source_dir": str(code), "entry_point": SCRIPT, "inputs": inputs,
              "hyperparameters": {"num-epochs": EPOCHS, "lr": 0.1},
              "metric_definitions": METRICS,
              "endpoint": {"port": free_port(), "sample_inputs": ["0.5", "-0.5"],
                           "startup_timeout_s": 90},
              "s3": {"prefix": f"linear-{uuid.uuid4().hex[:8]}"},
              "run_dir": str(folder / "run")}
    for key, value in extra.items():  # a section is merged into the one above
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    path = folder / "linear.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def validation_mse(model_tar: Path, validation: Path) -> float:
    """The mean squared error of the trained model on the validation points, computed here."""
    import tarfile

    import torch

    with tarfile.open(model_tar) as tar:
        state = torch.load(tar.extractfile("model.pth"))
    model = torch.nn.Linear(1, 1)
    model.load_state_dict(state)
    rows = [line.split(",") for line in (validation / "points.csv").read_text().split()]
    x = torch.tensor([[float(a)] for a, _ in rows])
    y = torch.tensor([[float(b)] for _, b in rows])
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(x), y).item()
