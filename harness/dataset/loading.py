"""Load a dataset (hub or local files), check its rows, columns and labels, tokenize it."""

from __future__ import annotations

import contextlib

from harness.config import DEFAULT_MAX_LENGTH, SPLITS, JobConfig, looks_like_path
from harness.dataset import checks, hub
from harness.dataset.checks import label_names
from harness.errors import StepError

FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
MIN_VOCABULARY = 100  # fewer tokens than this is no real tokenizer


def load_raw(config: JobConfig):
    """The train and test splits, before tokenization, as a DatasetDict, each split checked
    for rows, columns and missing values."""
    from datasets import DatasetDict, load_dataset

    ds = config.dataset
    assert ds is not None, "prepare runs with a dataset only"
    with datasets_quiet():
        if ds.name:
            local = config.resolve(ds.name)
            if local.exists() or looks_like_path(ds.name):
                loaded = load_dataset(str(local))
            else:
                loaded = hub.load("dataset", ds.name, lambda: load_dataset(ds.name))
            missing = [s for s in (ds.train_split, ds.test_split) if s not in loaded]
            if missing:
                raise StepError(f"dataset {ds.name!r} has no split {missing[0]!r}; it has: "
                                f"{', '.join(loaded)}",
                                "set dataset.train_split / dataset.test_split")
            raw = DatasetDict(train=loaded[ds.train_split], test=loaded[ds.test_split])
            sources = {split: f"dataset {ds.name!r}, split {getattr(ds, split + '_split')!r}"
                       for split in SPLITS}
        else:
            files = {split: config.resolve(getattr(ds, f"{split}_file")) for split in SPLITS}
            suffix = files["train"].suffix
            if suffix not in FILE_BUILDERS or files["test"].suffix != suffix:
                raise StepError(f"dataset files must share one of {', '.join(FILE_BUILDERS)}; "
                                f"got {files['train'].name} and {files['test'].name}",
                                "convert them to one format")
            # One split at a time: datasets would cast both to one schema and fail before
            # harness could say which file lacks which column.
            raw = DatasetDict({split: _load_file(f"{split}_file", path, FILE_BUILDERS[suffix],
                                                 config) for split, path in files.items()})
            sources = {split: path.name for split, path in files.items()}
    for split in SPLITS:
        checks.check_split(raw[split], split, sources[split], config)
    return raw


def _load_file(key: str, path, builder: str, config):
    from datasets import load_dataset

    if path.stat().st_size == 0:
        raise checks.empty(key, path, config)
    if builder != "parquet":
        checks.check_utf8(key, path)
    try:
        return load_dataset(builder, data_files=str(path), split="train")
    except Exception as e:  # a parser's error, which datasets may wrap in one of its own
        if not isinstance(e, ValueError) and \
                type(e).__module__.split(".")[0] not in ("datasets", "pyarrow"):
            raise
        raise checks.unreadable(key, path, builder, e) from e


@contextlib.contextmanager
def datasets_quiet():
    """No progress bars or logged errors from datasets: loading and casting take a moment
    each (tokenizing and saving show their bars), and a file that fails to load is reported
    once, by harness, with its fix."""
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
        logging,
    )

    was_disabled, verbosity = are_progress_bars_disabled(), logging.get_verbosity()
    disable_progress_bars()
    logging.set_verbosity(logging.CRITICAL)
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if not was_disabled:
            enable_progress_bars()


def model_limit(tokenizer, model_config) -> tuple[int, str] | None:
    """The most tokens the model takes, and where that comes from."""
    limits = []
    positions = getattr(model_config, "max_position_embeddings", None)
    if positions:
        limits.append((positions, "max_position_embeddings in its config.json"))
    if 0 < (tokenizer.model_max_length or 0) < 1_000_000:  # unset: a huge sentinel
        limits.append((tokenizer.model_max_length, "its tokenizer's model_max_length"))
    return min(limits) if limits else None


def max_length(config: JobConfig, model: str, limit: tuple[int, str] | None) -> int:
    assert config.dataset is not None
    wanted = config.dataset.max_length
    if wanted and limit and wanted > limit[0]:
        raise StepError(f"dataset.max_length is {wanted}, but model {model} takes at most "
                        f"{limit[0]} tokens ({limit[1]})",
                        f"set dataset.max_length to {limit[0]} or less, or leave it out "
                        "(it then defaults to the model's limit, at most "
                        f"{DEFAULT_MAX_LENGTH})")
    return wanted or min(DEFAULT_MAX_LENGTH, limit[0] if limit else DEFAULT_MAX_LENGTH)


def prepare(config: JobConfig, model_source: str, from_hub: bool = False):
    """Tokenized train/test splits with a `labels` ClassLabel column, ready for train.py.
    Everything is checked before anything is tokenized. `from_hub`: `model_source` is a hub
    id, not a folder."""
    from datasets import ClassLabel
    from transformers import AutoConfig, AutoTokenizer

    ds = config.dataset
    assert ds is not None, "prepare runs with a dataset only"
    raw = load_raw(config)
    names = label_names(raw, config)

    def load(loader):
        return hub.load("model", model_source, loader) if from_hub else loader()

    try:
        tokenizer = load(lambda: AutoTokenizer.from_pretrained(model_source))
        model_config = load(lambda: AutoConfig.from_pretrained(model_source))
    except (OSError, ValueError) as e:  # a local folder without tokenizer files, say
        first_line = (str(e).strip().splitlines() or [""])[0]
        raise StepError(f"could not load the tokenizer and config of model {model_source}: "
                        f"{first_line}", "the folder needs what save_pretrained writes for the "
                        "model and for its tokenizer (tokenizer.save_pretrained(folder))") from e
    if len(tokenizer) < MIN_VOCABULARY:  # transformers makes an empty one where files lack
        raise StepError(f"the tokenizer of model {model_source} knows {len(tokenizer)} tokens "
                        "only: the model has no tokenizer files, so every word would be unknown",
                        "save the tokenizer with the model (tokenizer.save_pretrained(folder))")
    length = max_length(config, model_source, model_limit(tokenizer, model_config))

    limits = {"train": ds.max_train_samples, "test": ds.max_eval_samples}
    seed = config.sample_seed
    for split, limit in limits.items():
        if limit and limit < len(raw[split]):
            raw[split] = raw[split].shuffle(seed=seed).select(range(limit))
    text, label = ds.text_column, ds.label_column

    def encode(batch):
        encoded = tokenizer(batch[text], truncation=True, max_length=length)
        encoded["labels"] = [names.index(v) if isinstance(v, str) else int(v)
                             for v in batch[label]]
        return encoded

    tokenized = {}
    for split in SPLITS:
        mapped = raw[split].map(encode, batched=True, remove_columns=raw[split].column_names,
                                desc=f"tokenizing {split}")
        with datasets_quiet():
            tokenized[split] = mapped.cast_column("labels", ClassLabel(names=names))
    return tokenized
