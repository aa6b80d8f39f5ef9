"""`sagemaker-local`: SageMaker SDK local mode. Containers run under docker-compose, S3 is
LocalStack's, and no call reaches AWS (no telemetry, no STS, no default-bucket lookup)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tarfile
from functools import cached_property
from pathlib import Path
from typing import Any

from harness import cleanup, docker_engine, emulator, image, local_endpoint
from harness.checkpoints import Reclaim
from harness.config import split_s3_uri
from harness.errors import StepError
from harness.modes.base import Mode
from harness.sdk import (TELEMETRY_OFF, checkpoint_uri, dataset_uri, estimator_arguments,
                         folder_uri)
from harness.training_job import job_name

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test",
               "region_name": "us-east-1"}
ROLE = "arn:aws:iam::000000000000:role/harness-local"
NETWORK = "sagemaker-local"  # the SDK's compose network
HOST_MODULE = "harness.modes.sagemaker_local_host"
PY_VERSION = "py311"  # the Python of harness's image
# Importing the SDK builds a default Session, whose credential lookup asks EC2's metadata
# service (an AWS address); nothing in this mode may, so botocore is told not to.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def local_session(s3_url: str, bucket: str, container_root: Path, serving_port: int):
    """A LocalSession on LocalStack: explicit boto session, own bucket, code mounted."""
    import boto3
    from sagemaker.local import LocalSession

    container_root.mkdir(parents=True, exist_ok=True)
    session = LocalSession(boto_session=boto3.Session(**CREDENTIALS), s3_endpoint_url=s3_url,
                           default_bucket=bucket, disable_local_code=False,
                           sagemaker_config=TELEMETRY_OFF)
    session.config = {"local": {"local_code": True, "container_root": str(container_root),
                                "serving_port": serving_port,
                                "container_config": {"labels": cleanup.container_labels()}}}
    return session


@contextlib.contextmanager
def interrupts_kept():
    """Raise KeyboardInterrupt after a Ctrl-C even when the SDK returns normally: it counts
    docker-compose's exit code 130 (its own Ctrl-C) as a successful job."""
    seen = []

    def interrupted(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt


@contextlib.contextmanager
def checkpoint_volume(host_dir: Path | None):
    """Mount `host_dir` at /opt/ml/checkpoints in training containers, as SageMaker's checkpoint
    config does. SDK local mode rejects `checkpoint_s3_uri`, so its volume list is extended."""
    if host_dir is None:
        yield
        return
    from sagemaker.local import image as sdk_image

    container = sdk_image._SageMakerContainer
    original = container._prepare_training_volumes

    def with_checkpoints(self, *args, **kwargs):
        return [*original(self, *args, **kwargs),
                sdk_image._Volume(str(host_dir), "/opt/ml/checkpoints")]

    container._prepare_training_volumes = with_checkpoints
    try:
        yield
    finally:
        container._prepare_training_volumes = original


def compose_projects(container_root: Path) -> list[str]:
    """The docker-compose projects the SDK created under `container_root` (one per folder)."""
    if not container_root.exists():
        return []
    return sorted(d.name for d in container_root.iterdir() if (d / "docker-compose.yaml").exists())


class SageMakerLocalMode(Mode):
    name = "sagemaker-local"

    @property
    def image_uri(self) -> str:
        """The configured image, else harness's image for this checkout."""
        return self.settings.image_uri or image.default_image()

    def estimator_arguments(self, hyperparameters: dict[str, Any]) -> dict[str, Any]:
        return {**estimator_arguments(self.config, self.settings, hyperparameters),
                "image_uri": self.image_uri, "py_version": PY_VERSION, "role": ROLE}

    def describe(self) -> dict[str, str]:
        return {"session": "LocalSession: LocalStack S3, containers under docker-compose",
                "inference instance": self.settings.inference_instance_type,
                "inference image": self.image_uri}

    def preflight(self, step: str) -> None:
        self.engine  # noqa: B018 - every step drives Docker
        if step in ("prepare", "train", "deploy"):
            self.s3_url  # noqa: B018 - and these need LocalStack
        if step in ("train", "deploy"):
            docker_engine.require_image(self.engine, self.image_uri, image.BUILD_HINT)

    @cached_property
    def engine(self):
        return docker_engine.client()

    @cached_property
    def s3_url(self) -> str:
        url = emulator.endpoint_url(self.engine)
        emulator.require(url)
        return url

    @cached_property
    def s3(self):
        import boto3

        client = boto3.client("s3", endpoint_url=self.s3_url, **CREDENTIALS)
        bucket = self.config.s3.bucket
        if bucket not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
            client.create_bucket(Bucket=bucket)
        return client

    def save_dataset(self, dataset, channel: str) -> str:
        self.s3  # noqa: B018 - the bucket must exist first
        target = dataset_uri(self.config, channel)
        dataset.save_to_disk(target, storage_options={
            "key": CREDENTIALS["aws_access_key_id"], "secret": CREDENTIALS["aws_secret_access_key"],
            "client_kwargs": {"endpoint_url": self.s3_url,
                              "region_name": CREDENTIALS["region_name"]}})
        return target

    def upload_folder(self, folder: Path, channel: str) -> str:
        return self._upload_tree(folder, folder_uri(self.config, channel))

    def _upload_tree(self, folder: Path, target: str) -> str:
        bucket, prefix = split_s3_uri(target)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
        return target

    def download(self, uri: str, destination: Path) -> Path:
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(*split_s3_uri(uri), str(destination))
        return destination

    def _session(self, container_root: Path):
        return local_session(self.s3_url, self.config.s3.bucket, container_root,
                             self.config.endpoint.port)

    def train(self, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0) -> dict[str, str]:
        from sagemaker.huggingface import HuggingFace

        name = job_name(self.config.name)
        root = self.run.path / "sagemaker-local" / "train"
        checkpoints = self.run.path / "sagemaker-local" / "checkpoints"
        output = self.config.s3_uri(name, "output")
        log = self.run.path / "train.log"

        def attempt(reclaim: Reclaim) -> None:
            estimator = HuggingFace(
                **self.estimator_arguments(hyperparameters), sagemaker_session=self._session(root),
                environment={"S3_ENDPOINT_URL": self.s3_url, "AWS_ENDPOINT_URL_S3": self.s3_url})
            reclaim.kill = lambda: docker_engine.kill_compose_projects(
                self.engine, compose_projects(root))
            try:
                with contextlib.redirect_stdout(Tee(sys.stdout, sink)), interrupts_kept(), \
                        checkpoint_volume(checkpoints if self.config.checkpoints.enabled else None):
                    estimator.fit(channels, job_name=name)  # the SDK prints container logs
            except Exception as e:
                raise self._failure(name, output, log) from e
            finally:
                self._remove_containers(root)

        with open(log, "w") as sink:
            self.with_checkpoints(attempt, checkpoints, name, interrupt_after)
        return {"job_name": name, "model_artifact": f"{output}/model.tar.gz",
                "output_artifact": f"{output}/output.tar.gz"}

    def save_checkpoint(self, checkpoint: Path, job: str) -> None:
        self._upload_tree(checkpoint, f"{checkpoint_uri(self.config, job)}/{checkpoint.name}")

    def restore_checkpoints(self, folder: Path, job: str) -> None:
        bucket, prefix = split_s3_uri(checkpoint_uri(self.config, job))
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        for item in (obj for page in pages for obj in page.get("Contents", [])):
            self.download(f"s3://{bucket}/{item['Key']}",
                          folder / item["Key"].removeprefix(prefix + "/"))

    def _failure(self, name: str, output: str, log: Path) -> StepError:
        """The start of the toolkit's failure file (SageMaker's FailureReason: the script's
        error first, before torchrun's own report), fetched from output.tar.gz as the SDK
        uploaded it; the container's last lines where there is none."""
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        local = self.run.path / "output"
        shutil.rmtree(local, ignore_errors=True)
        try:
            with tarfile.open(self.download(f"{output}/output.tar.gz",
                                            self.run.path / "output.tar.gz")) as tar:
                tar.extractall(local, filter="data")
        except Exception:  # no artifacts at all: the container never ran
            return StepError(f"training job {name} failed before train.py ran:\n{tail}",
                             f"full log: {log}")
        failure = local / "failure"
        reason = failure.read_text(errors="replace") if failure.exists() else tail
        return StepError(f"training job {name} failed:\n" + "\n".join(reason.splitlines()[:40]),
                         f"full log: {log}; failure file: {failure}")

    def _remove_containers(self, root: Path) -> None:
        import psutil

        for child in psutil.Process().children(recursive=True):  # compose left by Ctrl-C
            with contextlib.suppress(psutil.Error):
                if "docker-compose" in " ".join(child.cmdline()):
                    child.terminate()
        self._remove_projects(compose_projects(root), root)
        for container in cleanup.leftover_containers(self.engine, self.run.path):
            # e.g. an endpoint's, once its host process stopped
            docker_engine.force_remove(container)

    def _remove_projects(self, projects: list[str], root: Path) -> None:
        """The SDK leaves its containers, its network and its folder behind: remove them."""
        docker_engine.remove_compose_projects(self.engine, projects)
        docker_engine.remove_network_if_unused(self.engine, NETWORK)
        if os.getuid() != 0:  # containers wrote as root: take the files back before deleting
            docker_engine.give_back(self.engine, self.image_uri, root.parent, os.getuid(),
                                    os.getgid())
        shutil.rmtree(root, ignore_errors=True)

    def deploy(self, model_artifact: str) -> dict[str, Any]:
        root = self.run.path / "sagemaker-local" / "serve"
        shutil.rmtree(root, ignore_errors=True)
        ep = self.config.endpoint
        spec = {"s3_url": self.s3_url, "bucket": self.config.s3.bucket,
                "container_root": str(root), "port": ep.port,
                "model_data": model_artifact, "image_uri": self.image_uri,
                "instance_type": self.settings.inference_instance_type,
                "endpoint_name": self.endpoint_name, "role": ROLE,
                "startup_timeout_s": ep.startup_timeout_s, "env": ep.limits.to_env()}
        try:
            endpoint = local_endpoint.start(
                [sys.executable, "-m", HOST_MODULE, json.dumps(spec)], name=self.endpoint_name,
                port=ep.port, startup_timeout_s=ep.startup_timeout_s,
                log=self.run.path / "endpoint" / "host.log",
                env=cleanup.endpoint_env(self.run.path))
        except BaseException:
            self._remove_containers(root)
            raise
        return {**endpoint, "container_root": str(root), "projects": compose_projects(root)}

    def predict(self, endpoint: dict[str, Any], payload: Any) -> Any:
        from sagemaker.huggingface import HuggingFacePredictor
        from sagemaker.serializers import JSONSerializer

        session = self._session(Path(endpoint["container_root"]))
        predictor = HuggingFacePredictor(endpoint["name"], sagemaker_session=session,
                                         serializer=JSONSerializer(),
                                         deserializer=CheckedJSONDeserializer())
        return predictor.predict(payload)

    def delete(self, endpoint: dict[str, Any]) -> None:
        local_endpoint.stop(endpoint, grace_s=30)  # the host deletes the endpoint on SIGTERM
        self._remove_projects(endpoint["projects"], Path(endpoint["container_root"]))


class Tee:
    """A text stream that writes to two."""

    def __init__(self, stream, sink):
        self.stream, self.sink = stream, sink

    def write(self, text: str) -> int:
        self.sink.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.sink.flush()
        self.stream.flush()


class CheckedJSONDeserializer:
    """JSON, but an error status becomes an error: SDK local mode's runtime client returns any
    answer as if it were a prediction, where SageMaker's raises a ModelError."""

    ACCEPT = ("application/json",)

    def deserialize(self, stream, content_type):
        try:
            body = stream.read()
        finally:
            stream.close()
        if stream.status != 200:
            raise StepError(f"the endpoint answered {stream.status}: "
                            f"{body.decode(errors='replace')}")
        return json.loads(body)
