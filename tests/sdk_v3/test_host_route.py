"""v3's local training containers reach LocalStack as v2's do (tests/cli/
test_containers_reach_host.py runs one under v2): while a harness session watches, the compose
service ModelTrainer writes maps host.docker.internal and names it in the S3 endpoint it copies
from the host's session. Skipped under v2."""

import pytest

from harness import sdk
from harness.containers import docker_engine
from harness.pytest_plugin import require_docker

pytestmark = pytest.mark.skipif(sdk.major() != 3, reason="SDK v3's local container; v2 installed")


def test_model_trainers_compose_service_reaches_the_host():
    require_docker()
    from sagemaker.train.local.local_container import _LocalContainer

    from harness.sdk.patches_v3 import local_training

    route = docker_engine.host_route(docker_engine.client())
    container = _LocalContainer.model_construct(
        image="harness-train:x", container_root="/tmp/unused", instance_type="local",
        instance_count=1, environment={}, hyper_parameters={}, input_data_config=[],
        sagemaker_session=None, is_studio=False, container_entrypoint=None,
        container_arguments=None)
    undo = local_training({"harness.run": "r"})
    try:
        service = container._create_docker_host(
            "algo-1", {"S3_ENDPOINT_URL": f"http://{route.publish_ip}:4566"}, [])
    finally:
        undo()
    assert service["environment"] == ["S3_ENDPOINT_URL=http://host.docker.internal:4566"]
    assert service.get("extra_hosts", []) == list(route.extra_hosts)
    assert service["labels"] == {"harness.run": "r"}
    assert "extra_hosts" not in container._create_docker_host("algo-1", {}, [])  # undone
