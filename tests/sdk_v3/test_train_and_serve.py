"""The v3 example end to end on harness: a SageMaker-style train.py driven by a v3
ModelTrainer, and its model.tar.gz with a SageMaker-style inference.py served by a v3
ModelBuilder (an image of its own, the model on S3, `source_code`: the SDK's pass-through
build), both on `harness.session("sagemaker-local")` (LocalStack S3, harness's image):
train, build, deploy, invoke, delete, nothing left behind. Skipped under v2, whose own flow
is tests/user_script/test_e2e.py."""

import json
import uuid

import psutil
import pytest
import requests

from harness import sdk
from harness.host import ownership
from tests.support.runs import REPO, containers_left, published_addresses

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(sdk.major() != 3, reason="SDK v3 user code; SDK v2 is installed")]

PROJECT = REPO / "examples" / "linear-regression"


@pytest.mark.harness_modes("sagemaker-local")
def test_a_model_trainer_model_deploys_with_model_builder(harness_session, tmp_path):
    from sagemaker.core.training.configs import Compute, InputData, SourceCode
    from sagemaker.train import ModelTrainer

    sess = harness_session(config=PROJECT / "harness.yaml")
    from sagemaker.serve import ModelBuilder  # its import needs a region: the session's
    prefix = f"v3-serve-{uuid.uuid4().hex[:8]}"
    channels = [InputData(channel_name=name, data_source=sess.sagemaker_session.upload_data(
                    str(PROJECT / "data" / name), bucket=sess.default_bucket,
                    key_prefix=f"{prefix}/{name}"))
                for name in ("training", "validation")]
    root = tmp_path / prefix  # the compose project's name
    root.mkdir()
    # --- the v3 examples, their values swapped for the session's ---
    trainer = ModelTrainer(
        training_image=sess.image_uri,
        source_code=SourceCode(source_dir=str(PROJECT / "training"), entry_script="train.py"),
        compute=Compute(instance_type=sess.instance_type, instance_count=sess.instance_count),
        hyperparameters={"epochs": 150, "learning-rate": 0.2}, role=sess.role,
        training_mode=sess.training_mode, sagemaker_session=sess.sagemaker_session,
        local_container_root=str(root))
    trainer.train(input_data_config=channels)
    run = sess.sagemaker_session.config["local"]["container_config"]["labels"][
        ownership.LABEL_RUN]
    trained = containers_left(run)  # stopped: the session's close removes them
    model_data = sess.sagemaker_session.upload_data(  # local mode keeps it on this machine
        str(root / "compressed_artifacts" / "model.tar.gz"), bucket=sess.default_bucket,
        key_prefix=f"{prefix}/model")
    builder = ModelBuilder(
        s3_model_data_url=model_data, image_uri=sess.image_uri,
        source_code=SourceCode(source_dir=str(PROJECT / "serving"), entry_script="inference.py"),
        role_arn=sess.role, sagemaker_session=sess.sagemaker_session, mode=sess.serving_mode,
        instance_type=sess.inference_instance_type)
    builder.build()
    endpoint = builder.deploy(endpoint_name=prefix)
    answer = endpoint.invoke(body=b"1,0\n0,1\n", content_type="text/csv",
                             accept="application/json")
    predictions = json.loads(answer.body.read())["predictions"]
    published = published_addresses(run)
    endpoint.delete()
    # ---
    assert published == {"127.0.0.1"}  # endpoint.bind_address, as harness's own endpoints
    assert predictions == pytest.approx([3.5, -1.5], abs=0.1)  # y = 3*x1 - 2*x2 + 0.5
    port = sess.sagemaker_session.config["local"]["serving_port"]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://localhost:{port}/ping", timeout=5)
    assert containers_left(run) == trained  # the endpoint's is gone
    assert [p.cmdline() for p in psutil.Process().children(recursive=True)
            if "compose" in " ".join(p.cmdline())] == []  # the SDK's `docker-compose up`
    sess.close()
    assert containers_left(run) == []
