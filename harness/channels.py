"""A training job's input channels: which ones `prepare` stores, and where, in every mode."""

from __future__ import annotations

from harness.config import JobConfig
from harness.data import SPLITS
from harness.storage import Storage

MODEL = "model"  # a local model folder's channel; train.py reads SM_CHANNEL_MODEL


def planned(config: JobConfig, storage: Storage) -> dict[str, str]:
    """Channel name -> URI: the dataset splits, and the model when it is a local folder."""
    channels = {split: storage.dataset(split) for split in SPLITS}
    if config.model_source().folder:
        channels[MODEL] = storage.channel(MODEL)
    return channels
