"""SDK v3 user code on `harness.session("sagemaker-local")`: a ModelTrainer with SourceCode,
Compute and InputData in local container mode, on harness's image and LocalStack S3.
Runs where SDK v3 is installed (CI's default environment); skipped under v2."""

import tarfile
import uuid

import pytest

import harness
from harness import sdk
from harness.host.endpoint_process import free_port
from tests.support.runs import containers_left

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(sdk.major() != 3, reason="SDK v3 user code; SDK v2 is installed")]

SCRIPT = '''import argparse, glob, os
parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, default=1.0)
args = parser.parse_args()
total = sum(float(line) for path in glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "*"))
            for line in open(path))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "total.txt"), "w") as f:
    f.write(str(total * args.scale))
print("total:", total * args.scale)
'''


def test_model_trainer_runs_on_the_harness_session(tmp_path, sagemaker_local_stack):
    import boto3
    import yaml
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, SourceCode

    from harness.modes.sagemaker_local.session import CREDENTIALS

    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SCRIPT)
    root = tmp_path / f"mt{uuid.uuid4().hex[:8]}"  # its name is the compose project's
    root.mkdir()  # v3 makes temporary folders in local_container_root
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump({
        "name": "v3-trainer", "source_dir": str(code), "entry_point": "train.py",
        "run_dir": str(tmp_path / "run"), "endpoint": {"port": free_port()},
        "s3": {"prefix": f"v3-{tmp_path.name[-12:]}"}}))
    with harness.session("sagemaker-local", config) as sess:
        s3 = boto3.Session(**CREDENTIALS).client("s3", endpoint_url=sagemaker_local_stack)
        key = f"v3-{tmp_path.name[-12:]}/training/numbers.txt"
        s3.put_object(Bucket=sess.default_bucket, Key=key, Body=b"1\n2\n3.5\n")
        # --- v3 user code, its values swapped for the session's ---
        trainer = ModelTrainer(
            training_image=sess.image_uri,
            source_code=SourceCode(source_dir=str(code), entry_script="train.py"),
            compute=Compute(instance_type=sess.instance_type, instance_count=sess.instance_count),
            hyperparameters={"scale": 2}, role=sess.role, training_mode=sess.training_mode,
            sagemaker_session=sess.sagemaker_session, local_container_root=str(root))
        channel = f"s3://{sess.default_bucket}/{key}".rsplit("/", 1)[0]
        trainer.train(input_data_config=[InputData(channel_name="training", data_source=channel)])
        # ---
    model = root / "compressed_artifacts" / "model.tar.gz"
    with tarfile.open(model) as tar:
        assert tar.extractfile("total.txt").read() == b"13.0"
    assert containers_left(tmp_path / "run") == []
    from harness.containers import docker_engine

    project = f"com.docker.compose.project={root.name}"  # unlabelled ones too
    assert docker_engine.labelled_containers(docker_engine.client(), project) == []
