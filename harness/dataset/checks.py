"""What can be wrong with a dataset, found before anything is tokenized or stored, each named
with the file, the key and the fix."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

from harness.config import SPLITS
from harness.errors import StepError


def empty(key: str, path: Path, config) -> StepError:
    ds = config.dataset
    example = json.dumps({ds.text_column: "a fine film", ds.label_column: "positive"})
    return StepError(f"dataset.{key}: {path} has no rows",
                     f"add rows (JSON Lines: one object per line, e.g. {example}), or point "
                     f"dataset.{key} at the right file")


def unreadable(key: str, path: Path, builder: str, error: Exception) -> StepError:
    """Why a data file could not be loaded: not UTF-8, a broken JSON line, no rows; else the
    loader's own words."""
    found = _diagnose(key, path, builder)
    if found:
        return StepError(f"dataset.{key}: {path} {found[0]}", found[1])
    cause = error.__cause__ or error
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return StepError(f"dataset.{key}: {path} could not be read as {builder}: "
                     f"{type(cause).__name__}: {first_line}",
                     f"check that it is a valid {builder} file")


def check_utf8(key: str, path: Path) -> None:
    """Text files must be UTF-8: the JSON reader would otherwise load other bytes as they
    come, or fail far from the cause. Read in chunks, so a big file costs no memory."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                at = max(e.start - len(decoder.getstate()[0]), 0)  # within this chunk
                line += chunk.count(b"\n", 0, at)
                raise StepError(
                    f"dataset.{key}: {path} is not UTF-8 text: line {line} has the byte "
                    f"0x{chunk[at]:02x}",
                    f"save it as UTF-8 (from Latin-1, say: `iconv -f latin1 -t utf-8 "
                    f"{path.name} > utf8-{path.name}`) and point dataset.{key} at the new "
                    "file") from None
            line += chunk.count(b"\n")


def _diagnose(key: str, path: Path, builder: str) -> tuple[str, str] | None:
    if builder == "parquet":
        return None
    text = path.read_text(encoding="utf-8")  # check_utf8 has passed
    if not text.strip():
        return ("has no rows", f"add rows, or point dataset.{key} at the right file")
    return _broken_json(text) if builder == "json" else None


def _broken_json(text: str) -> tuple[str, str] | None:
    if text.lstrip().startswith("["):  # one JSON document, not JSON Lines
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            return (f"is not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}",
                    "fix the JSON there")
        return None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            shown = line.strip()[:60]
            return (f"line {number} is not valid JSON ({e.msg}, column {e.colno}): {shown}",
                    "fix or remove that line: JSON Lines hold one JSON object per line")
        if not isinstance(row, dict):
            return (f"line {number} is not a JSON object: {line.strip()[:60]}",
                    'each line must be one object, e.g. {"text": "...", "label": 0}')
    return None


def check_split(dataset, split: str, where: str, config) -> None:
    """Rows, columns, and no missing text or label, in one split (`where` names its source)."""
    ds = config.dataset
    if len(dataset) == 0:
        raise StepError(f"the {split} split ({where}) has no rows",
                        f"point dataset.{split}_file (or dataset.{split}_split) at data")
    for key, column in (("dataset.text_column", ds.text_column),
                        ("dataset.label_column", ds.label_column)):
        if column not in dataset.column_names:
            raise StepError(f"the {split} split ({where}) has no column {column!r}; it has: "
                            f"{', '.join(dataset.column_names)}", f"set {key} in the config")
    dtype = getattr(dataset.features[ds.text_column], "dtype", None)
    if dtype not in ("string", "large_string"):
        raise StepError(f"dataset.text_column {ds.text_column!r} must hold text, but in the "
                        f"{split} split ({where}) it holds {dtype or 'mixed values'}",
                        "point dataset.text_column at the column with the text")
    for key, column in (("text", ds.text_column), ("label", ds.label_column)):
        nulls = dataset.data.column(column).null_count
        if nulls:
            first = next(i for i, v in enumerate(dataset[column]) if v is None)
            raise StepError(f"the {split} split ({where}) has {nulls} row(s) with no {key} "
                            f"(null {column!r}), the first is row {first + 1}",
                            "fill in or remove those rows")


def label_names(dataset, config) -> list[str]:
    """Class names in label-id order, once every label is checked against them: from the
    config, else a ClassLabel feature, else the sorted string values, else LABEL_<id>."""
    column, names = config.dataset.label_column, config.dataset.label_names
    values = {split: list(dataset[split][column]) for split in SPLITS}
    kinds = {split: _kind(column, split, vals) for split, vals in values.items()}
    if kinds["train"] != kinds["test"]:
        raise StepError(f"the train split's labels are {kinds['train']} "
                        f"({values['train'][0]!r}, ...) but the test split's are "
                        f"{kinds['test']} ({values['test'][0]!r}, ...)", ONE_KIND)
    if kinds["train"] == "class names":
        found = sorted({v for vals in values.values() for v in vals})
        unknown = sorted(set(found) - set(names or found))
        if unknown:
            raise StepError(f"labels {unknown} are not in dataset.label_names {names}",
                            "add them to dataset.label_names, or leave it out to take the "
                            "names from the data")
        classes = names or found
    else:
        classes = _id_classes(dataset, config, values)
    _at_least_two(config, classes, values["train"])
    return classes


ONE_KIND = ("use one kind of label in every row of both splits: class names (\"positive\") "
            "or class ids (0, 1, ...)")


def _kind(column: str, split: str, values: list) -> str:
    if all(isinstance(v, str) for v in values):
        return "class names"
    if all(isinstance(v, (int, float)) for v in values):
        odd = next((v for v in values if v != int(v)), None)
        if odd is not None:
            raise StepError(f"dataset.label_column {column!r} holds {odd} in the {split} "
                            "split: a label must be a class name or a whole-number class id",
                            "map the values to classes (harness trains classifiers)")
        return "class ids"
    text = next((v for v in values if isinstance(v, str)), None)
    other = next(v for v in values if not isinstance(v, str))
    if text is None:
        raise StepError(f"dataset.label_column {column!r} holds {type(other).__name__} values "
                        f"in the {split} split ({other!r})", ONE_KIND)
    raise StepError(f"dataset.label_column {column!r} mixes class names and ids in the {split} "
                    f"split ({text!r} and {other!r})", ONE_KIND)


def _id_classes(dataset, config, values) -> list[str]:
    feature = dataset["train"].features[config.dataset.label_column]
    names, known = config.dataset.label_names, getattr(feature, "names", None)
    if names and known and len(names) != len(known):
        raise StepError(f"dataset.label_names has {len(names)} names but the dataset has "
                        f"{len(known)} classes: {known}",
                        f"give dataset.label_names {len(known)} names, in the order of {known}")
    classes = names or known
    for split, vals in values.items():
        ids = [int(v) for v in vals]
        if min(ids) < 0:
            rows = sum(1 for v in ids if v < 0)
            where = (f"take a labelled split as dataset.{split}_split (validation, say)"
                     if config.dataset.name else "drop those rows or give them their class")
            raise StepError(f"the {split} split has label {min(ids)} in {rows} row(s): class "
                            "ids start at 0 (-1 marks an unlabelled row in many datasets)",
                            where)
        if classes and max(ids) >= len(classes):
            raise StepError(f"label id {max(ids)} in the {split} split has no class: the "
                            f"classes are {classes} (ids 0 to {len(classes) - 1})",
                            "add the missing names to dataset.label_names, or fix those labels")
    top = max(int(v) for vals in values.values() for v in vals)
    return list(classes) if classes else [f"LABEL_{i}" for i in range(top + 1)]


def _at_least_two(config, classes: list[str], train: list) -> None:
    seen = {classes.index(v) if isinstance(v, str) else int(v) for v in train}
    if len(seen) < 2:
        only = classes[next(iter(seen))]
        raise StepError(f"the train split has one class only ({only!r} in all {len(train)} "
                        "rows): a classifier needs at least two",
                        f"add rows of the other classes, and check that dataset.label_column "
                        f"({config.dataset.label_column!r}) is the label")
