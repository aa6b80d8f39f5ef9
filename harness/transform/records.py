"""Batch transform's record handling, as SageMaker does it: split an input file into records,
pack them into requests, and per record apply `InputFilter`, join the prediction with the
input (`JoinSource`), apply `OutputFilter`, and assemble the outputs.

The filters are the JSONPath subset SageMaker documents ("Associate Prediction Results with
Input Records"): `$`, `.name`, `['a','b']`, `*`, `[1]`, `[1,3,-1]`, `[2:5]`, `[0,5:]`. A CSV
row is a JSON array of its columns. Semantics follow Jayway JsonPath, which the docs cite:
a slice's end is exclusive, as in Python (the docs' prose reads `$[1:4]` as the second through
fifth column; Jayway and Python say second through fourth)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
PROCESSED_TYPES = (CSV, JSON, JSONLINES)  # the only types data processing takes
# SageMaker's characters in a filter (its ValidationException lists them), plus names' letters
# and digits: `_` is refused there, and so here.
FILTER_CHARACTERS = re.compile(r"^[$\[\]*., :\-'A-Za-z0-9]*$")
MAX_FILTER_LENGTH = 63
INPUT_KEY, OUTPUT_KEY = "SageMakerInput", "SageMakerOutput"
MIB = 1024 * 1024


class RecordError(ValueError):
    """A record (or a filter on it) SageMaker would fail the input file for."""


# -- JSONPath -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Step:
    kind: str  # "key", "keys", "wild", "index"
    names: tuple[str, ...] = ()
    items: tuple[int | slice, ...] = ()


_INDEX_ITEM = re.compile(r"^\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*$")


def parse(path: str) -> tuple[_Step, ...]:
    """The steps of a filter; ValueError (in SageMaker's words where it has some) if it is
    not in the supported subset."""
    if not path.startswith("$"):
        raise ValueError(f"Invalid JsonPath: {path}: must start with '$'")
    if len(path) > MAX_FILTER_LENGTH:
        raise ValueError(f"Invalid JsonPath: {path}: longer than {MAX_FILTER_LENGTH} characters")
    bad = next((c for c in path if not FILTER_CHARACTERS.match(c)), None)
    if bad is not None:
        raise ValueError(f'Invalid JsonPath: {path}: unexpected "{bad}" (supported: $ [ ] * . '
                         "space , : - ' and names of letters and digits)")
    steps, rest = [], path[1:]
    while rest:
        if rest.startswith(".["):
            rest = rest[1:]
        if rest.startswith("."):
            match = re.match(r"\.(\*|[A-Za-z0-9]+)", rest)
            if not match:
                raise ValueError(f"Invalid JsonPath: {path}: a name must follow '.'")
            name = match.group(1)
            steps.append(_Step("wild") if name == "*" else _Step("key", (name,)))
            rest = rest[match.end():]
        elif rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise ValueError(f"Invalid JsonPath: {path}: '[' is never closed")
            steps.append(_bracket(rest[1:end].strip(), path))
            rest = rest[end + 1:]
        else:
            raise ValueError(f"Invalid JsonPath: {path}: unexpected {rest[0]!r}")
    return tuple(steps)


def _bracket(inside: str, path: str) -> _Step:
    if inside == "*":
        return _Step("wild")
    if inside.startswith("'"):
        names = [part.strip() for part in inside.split(",")]
        if not all(len(n) >= 2 and n[0] == n[-1] == "'" for n in names):
            raise ValueError(f"Invalid JsonPath: {path}: names in brackets are quoted: ['a','b']")
        return _Step("keys", tuple(n[1:-1] for n in names))
    items: list[int | slice] = []
    for part in inside.split(","):
        match = _INDEX_ITEM.match(part)
        if not match or not any(match.groups()):
            raise ValueError(f"Invalid JsonPath: {path}: [{inside}] is not an index, a list of "
                             "indexes or a range")
        start, colon, stop = match.groups()
        items.append(slice(_int(start), _int(stop)) if colon else int(start))
    if sum(isinstance(item, slice) for item in items) > 1:
        raise ValueError(f"Invalid JsonPath: {path}: only single range filters of format "
                         f"(eg: [1:5]) are supported. Format [{inside}] is not supported")
    return _Step("index", items=tuple(items))


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def select(path: str, value: Any) -> Any:
    """The part of `value` that `path` names: one value for a definite path, a list where
    the path picks several (a wildcard, a range, several indexes)."""
    results, definite = [value], True
    for step in parse(path):
        picked = []
        for current in results:
            found, single = _apply(step, current, path)
            picked.extend(found)
            definite = definite and single
        results = picked
    return results[0] if definite else results


def _apply(step: _Step, value: Any, path: str) -> tuple[list[Any], bool]:
    if step.kind == "key":
        if not isinstance(value, dict) or step.names[0] not in value:
            raise RecordError(f"{path}: no {step.names[0]!r} in {_short(value)}")
        return [value[step.names[0]]], True
    if step.kind == "keys":
        if not isinstance(value, dict):
            raise RecordError(f"{path}: {_short(value)} is not a JSON object")
        missing = [n for n in step.names if n not in value]
        if missing:
            raise RecordError(f"{path}: no {missing[0]!r} in {_short(value)}")
        if len(step.names) == 1:
            return [value[step.names[0]]], True
        return [{name: value[name] for name in step.names}], True
    if step.kind == "wild":
        values = list(value.values()) if isinstance(value, dict) else \
            list(value) if isinstance(value, list) else []
        return values, False
    if not isinstance(value, list):
        raise RecordError(f"{path}: {_short(value)} is not an array")
    picked = []
    for item in step.items:
        if isinstance(item, slice):
            picked.extend(value[item])
        elif -len(value) <= item < len(value):
            picked.append(value[item])
        else:
            raise RecordError(f"{path}: index {item} is outside an array of {len(value)}")
    return picked, len(step.items) == 1 and not isinstance(step.items[0], slice)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


# -- records --------------------------------------------------------------------------------

def split(data: bytes, split_type: str) -> list[bytes]:
    """`Line`: one record per line, its terminator removed (a last newline ends the last
    record, it does not start an empty one); `None`: the whole file is one record."""
    if split_type == "None":
        return [data]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.removesuffix(b"\r") for line in lines]


def batches(records: list[bytes], strategy: str, max_payload_mb: int) -> Iterator[list[int]]:
    """The records of each request, by index: one each (`SingleRecord`), or as many as fit in
    `max_payload_mb` MiB when joined by newlines (`MultiRecord`; 0: no limit). A record
    larger than the limit is an error, as on SageMaker."""
    limit = max_payload_mb * MIB or None
    batch: list[int] = []
    size = 0
    for index, record in enumerate(records):
        if limit and len(record) > limit:
            raise RecordError(f"record {index + 1} is {len(record)} bytes, larger than "
                              f"max_payload_mb ({max_payload_mb} MiB)")
        added = len(record) + (1 if batch else 0)
        if batch and (strategy == "SingleRecord" or (limit and size + added > limit)):
            yield batch
            batch, size, added = [], 0, len(record)
        batch.append(index)
        size += added
    if batch:
        yield batch


def decode(record: bytes, content_type: str) -> Any:
    """A record as data processing sees it: JSON, or a CSV row as a list of its columns."""
    text = record.decode("utf-8")
    if content_type == CSV:
        rows = list(csv.reader(io.StringIO(text)))
        if len(rows) != 1:
            raise RecordError(f"expected one CSV row, got {len(rows)}: {_short(text)}")
        return rows[0]
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f"not valid JSON ({e}): {_short(text)}") from None


def encode(value: Any, content_type: str) -> bytes:
    """A value back in its format: JSON (compact), or one CSV row (a list is its columns)."""
    if content_type == CSV:
        stream = io.StringIO()
        csv.writer(stream, lineterminator="").writerow(value if isinstance(value, list)
                                                       else [value])
        return stream.getvalue().encode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def join(record: Any, output: Any, content_type: str) -> Any:
    """The input record with its prediction: CSV columns appended; a JSON object gains
    `SageMakerOutput`; any other JSON becomes {SageMakerInput, SageMakerOutput}."""
    if content_type == CSV:
        return [*record, *(output if isinstance(output, list) else [output])]
    if isinstance(record, dict):
        return {**record, OUTPUT_KEY: output}
    return {INPUT_KEY: record, OUTPUT_KEY: output}


@dataclass(frozen=True)
class DataProcessing:
    """SageMaker's `DataProcessing` with the formats it needs; `None` filters are `$`."""

    content_type: str
    accept: str
    input_filter: str | None = None
    join_source: str | None = None
    output_filter: str | None = None

    @property
    def active(self) -> bool:
        """Whether records are touched at all (else they go out, and come back, as bytes)."""
        return (self.input_filter or "$") != "$" or self.join_source == "Input" or \
            (self.output_filter or "$") != "$"

    def request(self, record: bytes) -> tuple[Any, bytes]:
        """(the decoded record, what the container receives for it)."""
        value = decode(record, self.content_type)
        if self.input_filter is None or self.input_filter == "$":
            return value, record
        return value, encode(select(self.input_filter, value), self.content_type)

    def output(self, value: Any, answer: bytes) -> bytes:
        """What is written for one record: the prediction, joined and filtered."""
        result = decode(answer, self.accept)
        if self.join_source == "Input":
            result = join(value, result, self.content_type)
        if self.output_filter is not None and self.output_filter != "$":
            result = select(self.output_filter, result)
        return encode(result, self.accept)


def split_answer(answer: bytes, count: int) -> list[bytes]:
    """A MultiRecord answer, one part per record sent: its lines. SageMaker needs the same
    count back to associate each prediction with its record."""
    if count == 1:
        return [answer.rstrip(b"\n")]
    parts = split(answer, "Line")
    if len(parts) != count:
        raise RecordError(f"the model answered {len(parts)} lines for a request of {count} "
                          "records; joining and filtering need one line per record (or "
                          "strategy: SingleRecord)")
    return parts


def assemble(outputs: list[bytes], assemble_with: str | None) -> bytes:
    """`Line`: a newline after each output; otherwise the outputs concatenated."""
    if assemble_with == "Line":
        return b"".join(part if part.endswith(b"\n") else part + b"\n" for part in outputs)
    return b"".join(outputs)
