"""train.py's speed switches, as functions of the script itself (imported, not copied)."""

import argparse

import pytest


def test_fast_recipe_is_the_default_and_the_guide_recipe_is_one_flag_set_away(train_py):
    fast = train_py.parse_args([])
    assert (fast.precision, fast.pad_to_max_length, fast.pad_to_multiple_of, fast.group_by_length,
            fast.attn_implementation, fast.cudnn_attention, fast.optim) == (
        "auto", False, 8, True, "sdpa", False, "auto")
    seed = train_py.parse_args(["--precision", "fp32", "--pad_to_max_length", "True",
                                "--group_by_length", "False", "--attn_implementation", "eager",
                                "--optim", "adamw_torch"])
    assert (seed.pad_to_max_length, seed.group_by_length) == (True, False)


def test_every_config_hyperparameter_is_a_train_py_argument(train_py):
    from harness.config import TrainPyHyperparameters

    assert set(TrainPyHyperparameters.model_fields) <= set(vars(train_py.parse_args([])))


@pytest.mark.parametrize("text, value", [("True", True), ("false", False), ("1", True)])
def test_booleans_as_sagemaker_passes_them(train_py, text, value):
    assert train_py.boolean(text) is value
    with pytest.raises(argparse.ArgumentTypeError):
        train_py.boolean("maybe")


@pytest.mark.parametrize("text", ["0", "-8", "eight"])
def test_pad_multiple_must_be_a_positive_whole_number(train_py, text):
    with pytest.raises(argparse.ArgumentTypeError):
        train_py.positive(text)
    assert train_py.positive("64") == 64


def test_cpu_gets_fp32_plain_adamw_and_no_workers(train_py):
    assert train_py.precision("auto") == {"bf16": False, "fp16": False}  # no GPU here
    assert train_py.precision("fp16") == {"bf16": False, "fp16": True}
    assert train_py.optimizer("auto") == "adamw_torch"
    assert train_py.workers(None) == 0 and train_py.workers(3) == 3


def test_length_grouping_uses_this_transformers_name(train_py):
    from transformers import TrainingArguments

    flags = train_py.length_grouping(True)
    TrainingArguments(output_dir="unused", **flags)  # accepted by the installed release
    assert train_py.length_grouping(False) == {}


def test_dynamic_padding_against_the_guide_padding(train_py, tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    rows = [{"input_ids": list(range(100, 100 + n)), "attention_mask": [1] * n, "labels": 0}
            for n in (5, 11)]
    dynamic = train_py.collator(tokenizer, pad_to_max_length=False, multiple=8)(rows)
    padded = train_py.collator(tokenizer, pad_to_max_length=True, multiple=8)(rows)
    assert dynamic["input_ids"].shape == (2, 16)  # longest row, rounded up to 8
    assert padded["input_ids"].shape == (2, tokenizer.model_max_length)
    bucketed = train_py.collator(tokenizer, pad_to_max_length=False, multiple=64)(rows)
    assert bucketed["input_ids"].shape == (2, 64)
    assert bucketed["input_ids"][:, :16].tolist() == dynamic["input_ids"].tolist()


@pytest.mark.parametrize("side", ["right", "left"])
def test_fast_padding_matches_the_tokenizer_padding(train_py, tiny_bert, side):
    from transformers import AutoTokenizer, DataCollatorWithPadding

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert, padding_side=side)
    rows = [{**tokenizer(text), "labels": label}
            for text, label in (("short one", 0), ("a much longer review " * 5, 1), ("x", 1))]
    fast = train_py.collator(tokenizer, pad_to_max_length=False, multiple=8)(rows)
    reference = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)(rows)
    assert set(fast) == set(reference) >= {"input_ids", "attention_mask", "token_type_ids"}
    for key in reference:
        assert fast[key].dtype == reference[key].dtype, key
        assert fast[key].tolist() == reference[key].tolist(), key
