"""A training job's input channels: the ones `prepare` stores, and the config's `inputs`,
staged where the mode's training reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import MODEL_CHANNEL, SPLITS, JobConfig, prepared_channel_names
from harness.storage import Storage

MODEL = MODEL_CHANNEL  # a local model folder's channel; train.py reads SM_CHANNEL_MODEL
# Kinds of input: a local path, a file:// URI, or a remote (s3://) URI.
PATH, FILE_URI, REMOTE = "path", "file", "remote"


def planned(config: JobConfig, storage: Storage) -> dict[str, str]:
    """Channel name -> URI: the dataset splits, and the model when it is a local folder."""
    return {name: storage.dataset(name) if name in SPLITS else storage.channel(name)
            for name in prepared_channel_names(config)}


@dataclass(frozen=True)
class Input:
    """One of the config's `inputs`: the URI the job reads it at, and the local file or folder
    copied there first (None when the job reads it where it is)."""

    channel: str
    uri: str
    upload: Path | None = None


def inputs(config: JobConfig, storage: Storage, in_place: frozenset[str]) -> list[Input]:
    """The config's inputs as a mode reads them. A local one whose kind (`PATH`, `FILE_URI`) is
    in `in_place` is read where it is, as a file:// URI; any other goes to
    `storage.channel(name)`. Remote URIs are read where they are."""
    found = []
    for channel, source in config.inputs.items():
        local = config.local_input(source)
        kind = REMOTE if local is None else FILE_URI if source.startswith("file://") else PATH
        if kind == REMOTE:
            found.append(Input(channel, source))
        elif kind in in_place:
            found.append(Input(channel, f"file://{local}"))
        else:
            found.append(Input(channel, storage.channel(channel), upload=local))
    return found


def upload(items: list[Input], storage: Storage) -> dict[str, str]:
    """Copy each local input to its channel in `storage`; channel name -> URI."""
    for item in items:
        if item.upload:
            storage.replace(item.upload, item.uri)
    return {item.channel: item.uri for item in items}


def staged(config: JobConfig, storage: Storage, in_place: frozenset[str],
           prepared: dict[str, str]) -> dict[str, str]:
    """Every channel of the job: `prepared` (what `prepare` stored), and the config's inputs,
    local ones copied into `storage` unless the mode reads them in place."""
    return {**prepared, **upload(inputs(config, storage, in_place), storage)}
