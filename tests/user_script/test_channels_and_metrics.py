"""Where each mode reads an input from, and metrics read from a log as SageMaker reads them."""

from pathlib import Path

import pytest

from harness import channels, metrics
from harness.config import MetricDefinition, load_config
from harness.modes.local.mode import LocalMode
from harness.modes.sagemaker.mode import SageMakerMode
from harness.modes.sagemaker_local.mode import SageMakerLocalMode
from harness.storage import Storage
from tests.user_script.conftest import write_user_config

S3 = "s3://user-data/linear/validation/"


@pytest.fixture
def three_kinds(tmp_path, user_code, user_data):
    """A folder by path, a file by file:// URI, an S3 prefix."""
    config = write_user_config(tmp_path, user_code, {
        "training": str(user_data["training"]),
        "points": f"file://{user_data['validation'] / 'points.csv'}", "validation": S3})
    return load_config(config), Storage.local(tmp_path / "store")


@pytest.mark.parametrize("mode, uploaded", [
    (LocalMode, set()),  # linked into /opt/ml/input/data as they are
    (SageMakerLocalMode, {"training"}),  # SDK local mode mounts file:// itself
    (SageMakerMode, {"training", "points"}),  # SageMaker reads S3 only
])
def test_each_mode_reads_local_inputs_in_place_or_uploads_them(three_kinds, user_data, mode,
                                                              uploaded):
    config, storage = three_kinds
    found = {item.channel: item for item in channels.inputs(config, storage, mode.reads_in_place)}
    assert {name for name, item in found.items() if item.upload} == uploaded
    assert found["validation"].uri == S3
    for name in uploaded:
        assert found[name].uri == storage.channel(name)
    if "training" not in uploaded:
        assert found["training"].uri == f"file://{user_data['training']}"


def test_upload_makes_the_channel_hold_exactly_the_source(three_kinds, user_data):
    config, storage = three_kinds
    items = channels.inputs(config, storage, SageMakerMode.reads_in_place)
    stale = storage.channel("training") + "old.csv"
    with storage.open(stale, "wb") as f:
        f.write(b"left from an earlier run")
    uris = channels.upload(items, storage)
    assert uris["training"] == storage.channel("training")
    assert sorted(p.name for p in (Path(storage.root) / "channels" / "training").iterdir()) == \
        ["points.csv"]  # the stale file is gone
    assert not storage.exists(stale)
    assert storage.exists(storage.channel("points") + "points.csv")  # a file, under its name


def test_channel_prefixes_never_overlap(tmp_path):
    storage = Storage.local(tmp_path)
    assert not storage.channel("train_extra").startswith(storage.channel("train"))


REGEX = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def test_metrics_as_sagemaker_reads_them():
    definitions = [MetricDefinition(Name="eval_accuracy", Regex=rf"eval_accuracy\W+{REGEX}"),
                   MetricDefinition(Name="eval_loss", Regex=rf"eval_loss\W+{REGEX}"),
                   MetricDefinition(Name="never", Regex=r"never=(\d+)")]
    log = "\n".join([
        "{'eval_loss': 0.6931, 'eval_accuracy': 0.5, 'epoch': 1.0}",  # Trainer's dict
        "algo-1-abcde  | \x1b[36meval_accuracy    0.75\x1b[0m",  # aligned, coloured, prefixed
        'eval {"eval_loss": 1.25e-05, "eval_accuracy": 1.0}',  # JSON
        "eval_accuracy: n/a",  # no number: no value
    ])
    found = metrics.series(definitions, log)
    assert found == {"eval_accuracy": [0.5, 0.75, 1.0], "eval_loss": [0.6931, 1.25e-05],
                     "never": []}
    assert metrics.last_values(found) == {"eval_accuracy": 1.0, "eval_loss": 1.25e-05}
