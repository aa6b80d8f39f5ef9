"""Load a dataset (hub or local files), check its columns and labels, tokenize it."""

from __future__ import annotations

from harness.config import SPLITS, JobConfig, looks_like_path
from harness.errors import StepError

FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def load_raw(config: JobConfig):
    """The train and test splits, before tokenization, as a DatasetDict."""
    from datasets import DatasetDict, load_dataset

    ds = config.dataset
    if ds.name:
        local = config.resolve(ds.name)
        source = str(local) if local.exists() or looks_like_path(ds.name) else ds.name
        loaded = _offline_hint(lambda: load_dataset(source), f"dataset {ds.name!r}")
        missing = [s for s in (ds.train_split, ds.test_split) if s not in loaded]
        if missing:
            raise StepError(f"dataset {ds.name!r} has no split {missing[0]!r}; it has: "
                            f"{', '.join(loaded)}", "set dataset.train_split / dataset.test_split")
        return DatasetDict(train=loaded[ds.train_split], test=loaded[ds.test_split])
    files = {"train": config.resolve(ds.train_file), "test": config.resolve(ds.test_file)}
    suffix = files["train"].suffix
    if suffix not in FILE_BUILDERS or files["test"].suffix != suffix:
        raise StepError(f"dataset files must share one of {', '.join(FILE_BUILDERS)}; got "
                        f"{files['train'].name} and {files['test'].name}")
    return load_dataset(FILE_BUILDERS[suffix], data_files={k: str(v) for k, v in files.items()})


def _offline_hint(load, what: str):
    try:
        return load()
    except (OSError, ConnectionError) as e:
        raise StepError(f"could not load {what}: {e}",
                        "without internet, point the config at a local folder or files") from e


def check_columns(dataset, config: JobConfig, split: str) -> None:
    wanted = {"dataset.text_column": config.dataset.text_column,
              "dataset.label_column": config.dataset.label_column}
    for key, column in wanted.items():
        if column not in dataset.column_names:
            raise StepError(f"the {split} split has no column {column!r}; it has: "
                            f"{', '.join(dataset.column_names)}", f"set {key} in the config")


def label_names(dataset, config: JobConfig) -> list[str]:
    """Class names: from the config, else a ClassLabel feature, else the sorted string values."""
    feature = dataset["train"].features[config.dataset.label_column]
    names = config.dataset.label_names
    if hasattr(feature, "names"):
        if names and len(names) != len(feature.names):
            raise StepError(f"dataset.label_names has {len(names)} names but the dataset has "
                            f"{len(feature.names)} classes: {feature.names}")
        return names or list(feature.names)
    values = sorted({v for split in SPLITS for v in dataset[split][config.dataset.label_column]})
    if all(isinstance(v, str) for v in values):
        unknown = set(values) - set(names or values)
        if unknown:
            raise StepError(f"labels {sorted(unknown)} are not in dataset.label_names {names}")
        return names or values
    if names:
        if max(values) >= len(names):
            raise StepError(f"label id {max(values)} has no name in dataset.label_names {names}")
        return names
    return [f"LABEL_{i}" for i in range(int(max(values)) + 1)]


def prepare(config: JobConfig, model_source: str):
    """Tokenized train/test splits with a `labels` ClassLabel column, ready for train.py."""
    from datasets import ClassLabel
    from transformers import AutoTokenizer

    ds = config.dataset
    raw = load_raw(config)
    for split in SPLITS:
        check_columns(raw[split], config, split)
    names = label_names(raw, config)
    limits = {"train": ds.max_train_samples, "test": ds.max_eval_samples}
    seed = config.sample_seed
    for split, limit in limits.items():
        if limit and limit < len(raw[split]):
            raw[split] = raw[split].shuffle(seed=seed).select(range(limit))

    tokenizer = _offline_hint(lambda: AutoTokenizer.from_pretrained(model_source),
                              f"tokenizer {model_source!r}")
    text, label = ds.text_column, ds.label_column

    def encode(batch):
        encoded = tokenizer(batch[text], truncation=True, max_length=ds.max_length)
        labels = batch[label]
        encoded["labels"] = [names.index(v) if isinstance(v, str) else v for v in labels]
        return encoded

    tokenized = raw.map(encode, batched=True, remove_columns=raw["train"].column_names,
                        desc="Tokenizing")
    return tokenized.cast_column("labels", ClassLabel(names=names))

