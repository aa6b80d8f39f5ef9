"""A sagemaker-local training container reaches LocalStack as host.docker.internal, the name
that works on Docker Desktop and, mapped by harness to the bridge gateway, on a Linux engine
(this one). The script is the user's: it reads an object through the S3 endpoint SageMaker's
toolkit and boto3 read from the environment."""

import json

import yaml

from harness.containers import docker_engine, emulator
from harness.host.endpoint_process import free_port
from harness.modes.sagemaker_local.session import CREDENTIALS
from tests.support.cli import harness
from tests.support.runs import containers_left

SCRIPT = """
import json, os, socket
import boto3

s3 = boto3.client("s3")  # AWS_ENDPOINT_URL_S3 and the credentials come from the environment
body = s3.get_object(Bucket=os.environ["SM_HP_BUCKET"], Key=os.environ["SM_HP_KEY"])["Body"]
print("REACHED " + json.dumps({
    "AWS_ENDPOINT_URL_S3": os.environ["AWS_ENDPOINT_URL_S3"],
    "S3_ENDPOINT_URL": os.environ["S3_ENDPOINT_URL"],
    "address": socket.gethostbyname("host.docker.internal"), "body": body.read().decode()}))
open(os.path.join(os.environ["SM_MODEL_DIR"], "done"), "w").close()
"""


def test_a_training_container_reaches_localstack_as_host_docker_internal(
        tmp_path, harness_emulator, harness_image):
    import boto3

    bucket, key = "harness-artifacts", f"reach/{tmp_path.name}.txt"
    s3 = boto3.client("s3", endpoint_url=harness_emulator, **CREDENTIALS)
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:  # a fresh LocalStack
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=b"from the host")
    code = tmp_path / "code"
    code.mkdir()
    (code / "reach.py").write_text(SCRIPT)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "empty.csv").write_text("0\n")
    config = tmp_path / "reach.yaml"
    config.write_text(yaml.safe_dump({
        "name": "reach", "framework": "pytorch", "source_dir": str(code),
        "entry_point": "reach.py", "inputs": {"training": str(tmp_path / "data")},
        "hyperparameters": {"bucket": bucket, "key": key},
        "endpoint": {"port": free_port()}, "s3": {"prefix": f"reach-{tmp_path.name[-12:]}"},
        "run_dir": str(tmp_path / "run")}))

    harness("train", "-c", str(config), "--mode", "sagemaker-local")

    log = (tmp_path / "run" / "train.log").read_text()
    reached = json.loads(log.split("REACHED ", 1)[1].splitlines()[0])
    url = f"http://host.docker.internal:{emulator.PORT}"
    gateway = docker_engine.bridge_gateway(docker_engine.client())
    assert reached == {"AWS_ENDPOINT_URL_S3": url, "S3_ENDPOINT_URL": url, "address": gateway,
                       "body": "from the host"}
    assert harness_emulator == f"http://{gateway}:{emulator.PORT}"  # the host's own address
    assert containers_left(tmp_path / "run") == []
