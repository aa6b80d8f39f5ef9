"""The v3 example end to end on harness: a SageMaker-style train.py driven by a v3
ModelTrainer on `harness.session("sagemaker-local")` (LocalStack S3 channels, harness's image),
and the model.tar.gz it trains served by harness's own endpoint (`harness_endpoint`, `local`
mode): predict through boto3's SageMaker Runtime client, delete, nothing left behind.

ModelBuilder's local container mode is not the serving side here: it pulls its image from a
registry (none offline) and starts its own model servers (docs/sdk-versions.md). Skipped
under v2, whose own flow is tests/user_script/test_e2e.py."""

import json
import uuid

import boto3
import pytest

from harness import sdk
from tests.support.runs import REPO, containers_left

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(sdk.major() != 3, reason="SDK v3 user code; SDK v2 is installed")]

PROJECT = REPO / "examples" / "linear-regression"


@pytest.mark.harness_modes("sagemaker-local")
def test_a_model_trainer_model_deploys_and_predicts(harness_session, harness_endpoint, tmp_path):
    from sagemaker.core.training.configs import Compute, InputData, SourceCode
    from sagemaker.train import ModelTrainer

    sess = harness_session(config=PROJECT / "harness.yaml")
    prefix = f"v3-serve-{uuid.uuid4().hex[:8]}"
    channels = [InputData(channel_name=name, data_source=sess.sagemaker_session.upload_data(
                    str(PROJECT / "data" / name), bucket=sess.default_bucket,
                    key_prefix=f"{prefix}/{name}"))
                for name in ("training", "validation")]
    root = tmp_path / prefix  # the compose project's name
    root.mkdir()
    # --- the v3 example, its values swapped for the session's ---
    trainer = ModelTrainer(
        training_image=sess.image_uri,
        source_code=SourceCode(source_dir=str(PROJECT / "training"), entry_script="train.py"),
        compute=Compute(instance_type=sess.instance_type, instance_count=sess.instance_count),
        hyperparameters={"epochs": 150, "learning-rate": 0.2}, role=sess.role,
        training_mode=sess.training_mode, sagemaker_session=sess.sagemaker_session,
        local_container_root=str(root))
    trainer.train(input_data_config=channels)
    # ---
    model_data = root / "compressed_artifacts" / "model.tar.gz"
    endpoint = harness_endpoint(model_data=model_data, config=PROJECT / "harness.yaml",
                                mode="local")
    runtime = boto3.client("sagemaker-runtime", endpoint_url=endpoint.url,
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
    answer = runtime.invoke_endpoint(EndpointName=endpoint.name, Body=b"1,0\n0,1\n",
                                     ContentType="text/csv", Accept="application/json")
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert predictions == pytest.approx([3.5, -1.5], abs=0.1)  # y = 3*x1 - 2*x2 + 0.5
    endpoint.predictor.delete()
    with pytest.raises(Exception, match="Could not connect|Connection refused"):
        runtime.invoke_endpoint(EndpointName=endpoint.name, Body=b"1,0",
                                ContentType="text/csv")
    assert containers_left(endpoint.job.context.run.path) == []
