"""A batch transform in local mode from Python, with a user's own inference.py that knows
nothing of harness (JSON Lines, MultiRecord, a join of non-object records): quick enough for
the non-e2e suite."""

import json
import tarfile

import harness
from harness.host.endpoint_process import free_port
from tests.support.runs import write_config

INFERENCE = '''import json


def model_fn(model_dir):
    return lambda values: [sum(v) for v in values]


def input_fn(body, content_type):
    return [json.loads(line) for line in body.splitlines()]


def predict_fn(rows, model):
    return model(rows)


def output_fn(sums, accept):
    return "\\n".join(json.dumps({"sum": s}) for s in sums), accept
'''


def test_transform_from_python_with_a_users_inference_py(tmp_path):
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(INFERENCE)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(model / "code", arcname="code")
    rows = [{"id": i, "values": [i, i + 1, 0.5]} for i in range(7)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = write_config(tmp_path, model_data=str(tmp_path / "model.tar.gz"),
                          endpoint={"port": free_port()},
                          transform={"data": str(tmp_path / "rows.jsonl"),
                                     "output_path": str(tmp_path / "out"),
                                     "content_type": "application/jsonlines",
                                     "accept": "application/jsonlines", "split_type": "Line",
                                     "assemble_with": "Line", "input_filter": "$.values",
                                     "join_source": "Input",
                                     "output_filter": "$['id','SageMakerOutput']"})
    record = harness.Job.from_config(config, mode="local").transform()
    assert record["outputs"] == [str(tmp_path / "out" / "rows.jsonl.out")]
    written = (tmp_path / "out" / "rows.jsonl.out").read_text().splitlines()
    assert [json.loads(line) for line in written] == [
        {"id": r["id"], "SageMakerOutput": {"sum": sum(r["values"])}} for r in rows]
