"""A training script of the user's own (code/), written as SageMaker's docs write one, and
the data and config it runs with. Nothing here follows a harness convention."""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port

CODE = Path(__file__).parent / "code"
SCRIPT = "train_linear.py"
EPOCHS = 40
METRICS = [{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
           {"Name": "validation:mse", "Regex": r"Test set: Average loss: ([0-9.]+)"}]
DEPENDENCY = ("harness_probe_dep", "1.0")  # what code/requirements.txt asks for


def build_wheel(folder: Path) -> Path:
    """A pure-Python wheel of the dependency, built by hand (no build backend, no index)."""
    name, version = DEPENDENCY
    dist_info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f'VERSION = "{version}"\n',
             f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: harness-probe-dep\n"
                                      f"Version: {version}\n",
             f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: harness-tests\n"
                                   "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


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
