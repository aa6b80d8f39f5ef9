"""This project's integration tests, written with harness's pytest fixtures only: training in
both emulated modes, the trained model served and called with boto3, and bad requests."""

import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest

PROJECT = Path(__file__).resolve().parents[1]
CONFIG = PROJECT / "harness.yaml"
# The line the data was drawn from: y = 3*x1 - 2*x2 + 0.5 (+ noise of sd 0.05).
TRUE_WEIGHTS, TRUE_BIAS = [3.0, -2.0], 0.5
pytestmark = pytest.mark.e2e  # trains and serves for real


def runtime(endpoint):
    """boto3's SageMaker Runtime client, pointed at the emulated endpoint (any keys will do)."""
    return boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def invoke(endpoint, body, content_type="text/csv", accept="application/json"):
    answer = runtime(endpoint).invoke_endpoint(EndpointName=endpoint.name, Body=body,
                                               ContentType=content_type, Accept=accept)
    return answer["ContentType"], answer["Body"].read().decode()


def expected(row):
    return sum(w * x for w, x in zip(TRUE_WEIGHTS, row, strict=False)) + TRUE_BIAS


@pytest.mark.harness_modes("local", "sagemaker-local")
def test_trains_and_serves_the_line(harness_job, harness_endpoint):
    job = harness_job(CONFIG)
    metrics = job.train()
    assert metrics["validation:mse"] < 0.01  # the noise's variance is 0.0025
    assert metrics["train:mse"] < 0.01

    endpoint = harness_endpoint(job)
    rows = [[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]]
    content_type, body = invoke(endpoint, "\n".join(f"{a},{b}" for a, b in rows))
    assert content_type == "application/json"
    predictions = json.loads(body)["predictions"]
    assert predictions == pytest.approx([expected(row) for row in rows], abs=0.05)
    content_type, body = invoke(endpoint, json.dumps({"inputs": rows}),
                                content_type="application/json", accept="text/csv")
    assert content_type == "text/csv"
    assert [float(y) for y in body.split()] == pytest.approx(predictions, abs=1e-6)


def model_tar(folder, weights, bias) -> Path:
    """A model.tar.gz as training/train.py writes one, with known weights."""
    path = folder / "model.tar.gz"
    data = json.dumps({"weights": weights, "bias": bias}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.harness_modes("local", "sagemaker-local")
def test_bad_requests_are_model_errors(harness_endpoint, tmp_path):
    endpoint = harness_endpoint(model_data=model_tar(tmp_path, [1.0, 2.0], 3.0), config=CONFIG)
    assert json.loads(invoke(endpoint, "1,1")[1])["predictions"] == [6.0]
    client = runtime(endpoint)
    for body, content_type, problem in (
            ("1,2,3", "text/csv", "each row needs 2 features, got 3"),
            (b"\x00\x01", "application/x-npy", "unsupported content type application/x-npy"),
            ("not,numbers", "text/csv", "could not convert string to float")):
        with pytest.raises(client.exceptions.ModelError) as raised:
            client.invoke_endpoint(EndpointName=endpoint.name, Body=body, ContentType=content_type)
        error = raised.value.response
        assert error["OriginalStatusCode"] == 500  # the PyTorch toolkit's status for an error
        assert problem in error["OriginalMessage"]
    with pytest.raises(client.exceptions.ValidationError, match="not found"):
        client.invoke_endpoint(EndpointName="no-such-endpoint", Body="1,1", ContentType="text/csv")
