"""`harness tracker`: a real MLflow server beside real LocalStack. A client on this machine logs
a run whose artifact lands in LocalStack's S3; a container reaches the server at the address
`container_url` gives; `down` leaves no container or network and keeps the runs for `up`."""

from __future__ import annotations

import uuid

import pytest

from harness.containers import docker_engine, emulator, tracker
from tests.support.cli import harness

pytestmark = pytest.mark.e2e
CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "test",
               "aws_secret_access_key": "test"}


def status() -> tuple[int, list[str]]:
    result = harness("tracker", "status", check=False)
    return result.returncode, result.stdout.splitlines()


def test_up_log_reach_down_up(tracker_engine, tmp_path):
    engine = tracker_engine
    import boto3
    from mlflow import MlflowClient

    up = harness("tracker", "up")
    url = tracker.host_url(tracker.default_port())
    assert up.stdout.strip() == f"MLflow tracking server is up at {url} (MLFLOW_TRACKING_URI={url})"
    code, lines = status()
    assert code == 0 and lines[:2] == ["MLflow tracking server: up", f"  url:       {url}"]
    database = lines[2].split(":", 1)[1].strip()
    assert database.endswith(f"/{tracker.VOLUME}/_data/mlflow.db")
    assert lines[3] == f"  artifacts: {tracker.ARTIFACTS} (LocalStack S3)"
    assert harness("tracker", "ui").stdout == f"{url}\n"
    assert harness("tracker", "up").stdout == up.stdout  # idempotent

    # A client with no S3 credentials logs a run; the artifact goes through the server to S3.
    client = MlflowClient(url)
    experiment = client.create_experiment(f"tracker-e2e-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment).info.run_id
    client.log_metric(run, "eval_accuracy", 0.75, step=3)
    (tmp_path / "curves.txt").write_text("loss 0.5\n")
    client.log_artifact(run, str(tmp_path / "curves.txt"))
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint_url(engine), **CREDENTIALS)
    key = f"mlflow/{experiment}/{run}/artifacts/curves.txt"
    assert s3.get_object(Bucket=tracker.BUCKET, Key=key)["Body"].read() == b"loss 0.5\n"

    # A container (as a sagemaker-local training container would) reaches the server's API.
    inside = tracker.container_url(url, engine)
    assert inside.startswith(f"http://{docker_engine.HOST_NAME}:")
    probe = ("import json, sys, urllib.request; u = sys.argv[1]; "
             "urllib.request.urlopen(u + '/health', timeout=10); "
             "print(json.load(urllib.request.urlopen(u + '/api/2.0/mlflow/runs/get?run_id=' "
             "+ sys.argv[2], timeout=10))['run']['data']['metrics'][0]['value'])")
    seen = engine.containers.run(tracker.image(), ["python3", "-c", probe, inside, run],
                                 remove=True, network="bridge", extra_hosts=dict(
                                     host.split(":", 1) for host in
                                     docker_engine.host_route(engine).extra_hosts))
    assert seen.decode().strip() == "0.75"

    harness("tracker", "down")
    assert docker_engine.compose_containers(engine, [tracker.PROJECT]) == []
    assert not [n for n in engine.networks.list() if n.name.startswith(f"{tracker.PROJECT}_")]
    code, lines = status()
    assert code == 1 and lines[0] == "MLflow tracking server: down (start it with `harness tracker up`)"
    assert harness("tracker", "ui", check=False).returncode == 1

    harness("tracker", "up")  # the runs were kept
    kept = MlflowClient(url)
    assert [m.value for m in kept.get_metric_history(run, "eval_accuracy")] == [0.75]
    assert [f.path for f in kept.list_artifacts(run)] == ["curves.txt"]
