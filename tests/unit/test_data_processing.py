"""Batch transform's data processing (SageMaker's "Associate Prediction Results with Input
Records"): JSONPath filters, joins, splitting, batching and assembling. Pure functions: fast."""

import json

import pytest

from harness.config import load_config
from harness.errors import ConfigError
from harness.transform import records as dp
from tests.support.runs import DEFAULT_CONFIG

ROW = ["17", "5.1", "3.5", "1.4"]


@pytest.mark.parametrize("path, value, expected", [
    ("$", ROW, ROW),
    ("$[1:]", ROW, ["5.1", "3.5", "1.4"]),  # the docs' CSV example: drop the ID column
    ("$[0,-1]", ROW, ["17", "1.4"]),  # ID and last column (the joined prediction)
    ("$[0]", ROW, "17"),
    ("$[:2]", ROW, ["17", "5.1"]),  # end exclusive, as Jayway and Python (the docs' prose
    ("$[1:3]", ROW, ["5.1", "3.5"]),  # reads an inclusive end; unconfirmed on the service)
    ("$[0,2:]", ROW, ["17", "3.5", "1.4"]),  # one index plus one range (the API's example)
    ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
    ("$['id','SageMakerOutput']", {"id": 1, "x": 2, "SageMakerOutput": {"label": 1}},
     {"id": 1, "SageMakerOutput": {"label": 1}}),
    ("$['id']", {"id": 1, "x": 2}, 1),
    ("$.field1.['child1','child2']", {"field1": {"child1": 1, "child2": 2, "child3": 3}},
     {"child1": 1, "child2": 2}),
    ("$.id.*", {"id": {"a": 1, "b": 2}}, [1, 2]),
    ("$.a.b[1]", {"a": {"b": [5, 6, 7]}}, 6),
])
def test_filters_select_as_sagemaker_documents(path, value, expected):
    assert dp.select(path, value) == expected


@pytest.mark.parametrize("path, message", [
    ("$[0:2,246:]", "only single range filters of format (eg: [1:5]) are supported. "
                    "Format [0:2,246:] is not supported"),
    ("$.account_id", 'unexpected "_"'),  # the service's ValidationException, aws/aws-sdk#184
    ("id", "must start with '$'"),
    ("$[1", "never closed"),
    ("$['a'," + "'b'," * 20 + "'c']", "longer than 63"),
])
def test_filters_outside_the_supported_subset_are_refused(path, message):
    with pytest.raises(ValueError) as error:
        dp.parse(path)
    assert message in str(error.value)


def test_a_filter_past_the_record_fails_it():
    with pytest.raises(dp.RecordError, match="index 7 is outside an array of 4"):
        dp.select("$[7]", ROW)
    with pytest.raises(dp.RecordError, match="no 'id' in"):
        dp.select("$.id", {"x": 1})


def test_csv_record_filtered_joined_and_filtered_again():
    """The docs' worked example: the model never sees the ID; the output keeps ID and label."""
    processing = dp.DataProcessing(dp.CSV, dp.CSV, "$[1:]", "Input", "$[0,-1]")
    value, sent = processing.request(b"17,5.1,3.5,1.4")
    assert sent == b"5.1,3.5,1.4"
    assert processing.output(value, b"0.93") == b"17,0.93"


def test_json_join_adds_sagemaker_output_or_wraps_a_non_object():
    assert dp.join({"key": 1}, {"label": 1}, dp.JSON) == {"key": 1, "SageMakerOutput": {"label": 1}}
    assert dp.join([1, 2], [0.5], dp.JSONLINES) == {"SageMakerInput": [1, 2],
                                                    "SageMakerOutput": [0.5]}
    assert dp.join(["1", "2", "3"], ["1"], dp.CSV) == ["1", "2", "3", "1"]


def test_json_record_through_filters():
    processing = dp.DataProcessing(dp.JSON, dp.JSON, "$.features", "Input",
                                   "$['id','SageMakerOutput']")
    record = json.dumps({"id": 7, "features": [1, 2], "noise": "x"}).encode()
    value, sent = processing.request(record)
    assert json.loads(sent) == [1, 2]
    out = processing.output(value, b'{"label": 1}')
    assert json.loads(out) == {"id": 7, "SageMakerOutput": {"label": 1}}


def test_untouched_records_are_not_parsed():
    processing = dp.DataProcessing(dp.JSON, dp.JSON, "$", "None", "$")
    assert not processing.active


def test_line_split_keeps_blank_lines_and_drops_the_last_terminator():
    assert dp.split(b"a,1\n\nb,2\r\nc,3\n", "Line") == [b"a,1", b"", b"b,2", b"c,3"]
    assert dp.split(b"a,1\nb", "Line") == [b"a,1", b"b"]
    assert dp.split(b"a,1\nb\n", "None") == [b"a,1\nb\n"]


def test_batches_single_record_and_multi_record_by_payload_bytes():
    records = [b"x" * 400_000] * 5  # 0.38 MiB each: two fit in 1 MiB with their newline
    assert list(dp.batches(records, "SingleRecord", 1)) == [[0], [1], [2], [3], [4]]
    assert list(dp.batches(records, "MultiRecord", 1)) == [[0, 1], [2, 3], [4]]
    assert list(dp.batches(records, "MultiRecord", 0)) == [[0, 1, 2, 3, 4]]  # 0: no limit
    with pytest.raises(dp.RecordError, match="record 2 is 1048577 bytes, larger than "
                                             "max_payload_mb"):
        list(dp.batches([b"a", b"y" * (1024 * 1024 + 1)], "MultiRecord", 1))


def test_multi_record_answer_needs_one_line_per_record():
    assert dp.split_answer(b"1\n2\n3\n", 3) == [b"1", b"2", b"3"]
    with pytest.raises(dp.RecordError, match="answered 2 lines for a request of 3 records"):
        dp.split_answer(b"1\n2\n", 3)


def test_assemble_line_adds_one_newline_per_record():
    assert dp.assemble([b"a", b"b\n"], "Line") == b"a\nb\n"
    assert dp.assemble([b"[1]", b"[2]"], None) == b"[1][2]"


@pytest.mark.parametrize("transform, message", [
    ({"data": "x.csv", "content_type": "text/csv", "accept": "text/csv",
      "input_filter": "$[1:]"}, "split_type: Line and assemble_with: Line"),
    ({"data": "x.jsonl", "join_source": "Input"}, "need content_type and accept"),
    ({"data": "x.jsonl", "content_type": "application/json", "accept": "application/json",
      "output_filter": "$.a_b"}, 'unexpected "_"'),
    ({"data": "x.jsonl", "max_payload_mb": 60, "max_concurrent_transforms": 2},
     "may not exceed 100"),
    ({"data": "gs://bucket/x.jsonl"}, "a local path or an s3:// URI"),
    ({"data": "x.jsonl", "strategy": "Multi"}, "transform.strategy"),
])
def test_transform_config_follows_the_services_rules(transform, message):
    with pytest.raises(ConfigError) as error:
        load_config(DEFAULT_CONFIG, {"transform": transform})
    assert message in error.value.message
