"""Every touch of SDK v3's private API, in one place, applied from a function, never at import."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from harness.containers import docker_engine
from harness.errors import HarnessError
from harness.sdk import local_mode

# Instance types with GPUs or AWS accelerators: local containers get none of them (v3 would
# start the job on this machine's CPU as if it were one).
ACCELERATED = re.compile(r"ml\.(p|g|trn|inf)\d")
LOCAL_TYPE_FIX = ("use Compute(instance_type=session.instance_type, "
                  "instance_count=session.instance_count) from harness.session(): `local` "
                  "(`local_gpu` runs on this machine's GPUs)")


def local_training(labels: dict[str, str]) -> Callable[[], None]:
    """While a harness session is open: ModelTrainer's local training containers get `labels`
    (v2 takes them from the session's `container_config`; v3's have none), so that the
    session's close finds and removes them; and the v3 mistakes local mode cannot run are
    HarnessErrors with their fix: a ModelTrainer without `training_image`, an accelerated
    instance type. Returns the undo."""
    from pydantic import ValidationError
    from sagemaker.train.local.local_container import _LocalContainer
    from sagemaker.train.model_trainer import Mode, ModelTrainer

    original_host = _LocalContainer._create_docker_host
    original_train = _LocalContainer.train
    original_init = ModelTrainer.__init__

    route = docker_engine.host_route(docker_engine.client())

    def labelled(self, *args, **kwargs):  # and reaching LocalStack as v2's (patches_v2)
        return route.applied({**original_host(self, *args, **kwargs), "labels": dict(labels)})

    def checked_train(self, *args, **kwargs):
        if ACCELERATED.match(self.instance_type):
            raise HarnessError(f"ModelTrainer's Compute(instance_type={self.instance_type!r}) "
                               "in sagemaker-local: local containers get no GPU or accelerator "
                               "from an instance type", LOCAL_TYPE_FIX)
        return original_train(self, *args, **kwargs)

    def checked_init(self, /, **data):
        try:
            original_init(self, **data)
        except ValidationError as e:
            if (data.get("training_mode") == Mode.LOCAL_CONTAINER
                    and "'training_image' or 'algorithm_name'" in str(e)):
                raise HarnessError(
                    "a ModelTrainer in sagemaker-local needs training_image: local mode runs "
                    "no SageMaker algorithm and picks no DLC",
                    "pass training_image=session.image_uri (harness's image) to ModelTrainer, "
                    "or an image of your own") from None
            raise

    _LocalContainer._create_docker_host = labelled
    _LocalContainer.train = checked_train
    ModelTrainer.__init__ = checked_init

    def undo() -> None:
        _LocalContainer._create_docker_host = original_host
        _LocalContainer.train = original_train
        ModelTrainer.__init__ = original_init

    return undo


# harness's own sagemaker-local jobs run on v3's `sagemaker.core.local`: v2's local mode moved,
# which needs what v2's does (`local_mode.py`).

def checkpoint_volume(host_dir: Path | None):
    from sagemaker.core.local import image as sdk_image

    return local_mode.checkpoint_volume(sdk_image, host_dir)


def allow_startup(startup_timeout_s: float) -> None:
    from sagemaker.core.local import entities

    local_mode.allow_startup(entities, startup_timeout_s)


def serving_port_bound(address: str):
    from sagemaker.core.local import image as sdk_image

    return local_mode.serving_port_bound(sdk_image, address)


def compose_found() -> None:
    from sagemaker.core.local import image as sdk_image

    local_mode.compose_found(sdk_image)


def containers_reach_host() -> None:
    from sagemaker.core.local import image as sdk_image

    local_mode.containers_reach_host(sdk_image)


def model_builder_local() -> Callable[[], None]:
    """While a harness session is open: the user's `ModelBuilder(mode=Mode.LOCAL_CONTAINER)`
    with an image of its own and a model.tar.gz (`image_uri`, `s3_model_data_url`,
    `source_code`: the SDK's pass-through build) serves as SageMaker would, through the
    session it was given: `IMAGE serve` on the SageMaker serving contract, the model and code
    from LocalStack S3, the endpoint's container labelled and removed on delete. 3.27 builds
    that model, then has no server to start for it (`LocalContainerMode.create_server` starts
    only its own model servers, and `LocalEndpoint.invoke` refuses a model without one).
    A model.tar.gz not on S3 with `source_code` is a HarnessError (the SDK would drop the
    code). ModelBuilder's own model servers (a model object, an InferenceSpec, `model_server`)
    keep the SDK's way, which pulls their image from a registry. Returns the undo."""
    from types import SimpleNamespace

    from sagemaker.core.local.local_session import LocalSagemakerClient
    from sagemaker.serve import model_builder
    from sagemaker.serve.local_resources import InvokeEndpointOutput, LocalEndpoint

    original_resolve = model_builder.resolve_and_validate_role
    original_build = model_builder.ModelBuilder.build
    original_deploy = model_builder.ModelBuilder._deploy_local_endpoint
    original_invoke = LocalEndpoint.invoke
    original_delete = LocalEndpoint.delete

    def role_unchecked(*args, sagemaker_session=None, **kwargs):
        # a local container takes no role: no IAM simulation on AWS for it
        if getattr(sagemaker_session, "local_mode", False):
            kwargs["validate_role"] = False
        return original_resolve(*args, sagemaker_session=sagemaker_session, **kwargs)

    def checked_build(self, *args, **kwargs):
        data = self.s3_model_data_url
        if (getattr(self.sagemaker_session, "local_mode", False) and self.source_code
                and isinstance(data, str) and not data.startswith("s3://")):
            raise HarnessError(
                f"ModelBuilder(s3_model_data_url={data!r}, source_code=...) leaves your "
                "inference code out: the SDK repacks code only into a model.tar.gz on S3",
                "upload the model first: s3_model_data_url=sess.sagemaker_session.upload_data("
                "path, bucket=sess.default_bucket, key_prefix=...) (LocalStack in "
                "sagemaker-local)")
        return original_build(self, *args, **kwargs)

    def served_by_session(self, **kwargs):
        session = self.sagemaker_session
        if self.model_server is not None or not getattr(session, "local_mode", False):
            return original_deploy(self, **kwargs)
        name = self.endpoint_name  # deploy() sets it
        client = session.sagemaker_client
        client.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=[{
                "VariantName": "AllTraffic", "ModelName": self.built_model.model_name,
                "InitialInstanceCount": 1, "InstanceType": "local"}])
        client.create_endpoint(EndpointName=name, EndpointConfigName=name)
        return LocalEndpoint(endpoint_name=name, endpoint_config_name=name,
                             local_session=session, local_model=self.built_model)

    def invoked_by_session(self, body, content_type="application/json",
                           accept="application/json", **kwargs):
        if self.model_server is not None or self.in_process_mode:
            return original_invoke(self, body, content_type, accept, **kwargs)
        response = self._local_session.sagemaker_runtime_client.invoke_endpoint(
            EndpointName=self.endpoint_name, Body=body, ContentType=content_type, Accept=accept)
        return InvokeEndpointOutput(body=response["Body"],
                                    content_type=response.get("ContentType", accept))

    def deleted_with_container(self):
        served = LocalSagemakerClient._endpoints.get(self.endpoint_name)
        original_delete(self)
        if self.model_server is None and served is not None and served.container is not None:
            # the SDK stops the container (ends its `docker-compose up`); SageMaker's is gone
            project = Path(served.container.container_root).name
            docker_engine.remove_compose_projects(docker_engine.client(), [project])

    model_builder.resolve_and_validate_role = role_unchecked
    model_builder.ModelBuilder.build = checked_build
    model_builder.ModelBuilder._deploy_local_endpoint = served_by_session
    LocalEndpoint.invoke = invoked_by_session
    LocalEndpoint.delete = deleted_with_container
    # ModelBuilder decorates its session client's user agent; the local one sends no requests
    LocalSagemakerClient._user_agent_creator = SimpleNamespace(to_string=lambda *a, **k: "")

    def undo() -> None:
        model_builder.resolve_and_validate_role = original_resolve
        model_builder.ModelBuilder.build = original_build
        model_builder.ModelBuilder._deploy_local_endpoint = original_deploy
        LocalEndpoint.invoke = original_invoke
        LocalEndpoint.delete = original_delete
        if "_user_agent_creator" in vars(LocalSagemakerClient):  # undone once, closed twice
            del LocalSagemakerClient._user_agent_creator

    return undo


def s3_on(boto_session, s3_url: str):
    """`boto_session`, its S3 clients and resources on `s3_url` unless told otherwise: v3 code
    that takes the session's boto session for S3 (ModelBuilder's repack and downloads) then
    reaches LocalStack, as the LocalSession's own S3 client does."""
    client, resource = boto_session.client, boto_session.resource

    def on_s3(make):
        def made(service_name, *args, **kwargs):
            if service_name == "s3":
                kwargs.setdefault("endpoint_url", s3_url)
            return make(service_name, *args, **kwargs)
        return made

    boto_session.client, boto_session.resource = on_s3(client), on_s3(resource)
    return boto_session
