"""Dataset loading, column checks and label names, on files and folders made here."""

import json

import pytest

from harness.config import load_config
from harness.dataset.checks import label_names
from harness.dataset.loading import load_raw, prepare
from harness.errors import StepError
from tests.support.runs import write_config


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def files(tmp_path):
    rows = [{"review": f"text {i}", "sentiment": "good" if i % 2 else "bad"} for i in range(6)]
    return {"train_file": jsonl(tmp_path / "train.jsonl", rows),
            "test_file": jsonl(tmp_path / "test.jsonl", rows[:2])}


def test_missing_text_column_names_the_columns_it_has(tmp_path, files, tiny_bert):
    config = load_config(write_config(tmp_path, model=str(tiny_bert), dataset=files))
    with pytest.raises(StepError) as error:
        prepare(config, str(tiny_bert))
    assert "no column 'text'; it has: review, sentiment" in str(error.value)
    assert "dataset.text_column" in error.value.hint


def test_missing_label_column(tmp_path, files, tiny_bert):
    config = load_config(write_config(tmp_path, model=str(tiny_bert),
                                      dataset={**files, "text_column": "review"}))
    with pytest.raises(StepError, match="no column 'label'; it has: review, sentiment"):
        prepare(config, str(tiny_bert))


def test_string_labels_become_a_class_label(tmp_path, files, tiny_bert):
    config = load_config(write_config(tmp_path, model=str(tiny_bert), dataset={
        **files, "text_column": "review", "label_column": "sentiment", "max_train_samples": 4}))
    splits = prepare(config, str(tiny_bert))
    assert splits["train"].features["labels"].names == ["bad", "good"]
    assert len(splits["train"]) == 4 and len(splits["test"]) == 2
    assert set(splits["train"].column_names) >= {"input_ids", "attention_mask", "labels"}
    first = splits["test"][0]  # rows[0] is "bad", rows[1] is "good"
    assert first["labels"] == 0


def test_label_names_must_cover_string_labels(tmp_path, files):
    config = load_config(write_config(tmp_path, dataset={
        **files, "text_column": "review", "label_column": "sentiment",
        "label_names": ["bad", "fine"]}))
    with pytest.raises(StepError, match=r"labels \['good'\] are not in dataset.label_names"):
        label_names(load_raw(config), config)


NO_FILES = {"train_file": None, "test_file": None}


def test_class_label_names_can_be_renamed(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    folder = tmp_path / "imdb-like"
    folder.mkdir()
    for split in ("train", "test"):
        Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}, features=features) \
            .to_parquet(folder / f"{split}.parquet")
    config = load_config(write_config(tmp_path, dataset={**NO_FILES, "name": str(folder)}))
    assert label_names(load_raw(config), config) == ["neg", "pos"]
    renamed = load_config(write_config(tmp_path, dataset={
        **NO_FILES, "name": str(folder), "label_names": ["NEGATIVE", "POSITIVE"]}))
    assert label_names(load_raw(renamed), renamed) == ["NEGATIVE", "POSITIVE"]
    wrong = load_config(write_config(tmp_path, dataset={**NO_FILES, "name": str(folder),
                                                        "label_names": ["A", "B", "C"]}))
    with pytest.raises(StepError, match="has 3 names but the dataset has 2 classes"):
        label_names(load_raw(wrong), wrong)


def test_missing_split_lists_the_splits_it_has(tmp_path):
    from datasets import Dataset

    folder = tmp_path / "one-split"
    folder.mkdir()
    Dataset.from_dict({"text": ["a"], "label": [0]}).to_parquet(folder / "train.parquet")
    config = load_config(write_config(tmp_path, dataset={**NO_FILES, "name": str(folder)}))
    with pytest.raises(StepError, match="has no split 'test'; it has: train"):
        load_raw(config)
