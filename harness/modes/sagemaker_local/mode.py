"""`sagemaker-local`: SageMaker SDK local mode. Containers run under docker-compose, S3 is
LocalStack's, and no call reaches AWS (no telemetry, no STS, no default-bucket lookup)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import channels, machine
from harness.checkpoints import Reclaim
from harness.containers import compose, docker_engine, emulator, image, tracker
from harness.errors import HarnessError, StepError
from harness.host import endpoint_process, ownership
from harness.host.process import stdout_copied_to
from harness.modes.base import SdkSession, TrainingFailed
from harness.modes.emulated import EmulatedMode
from harness.modes.sagemaker_local.session import CREDENTIALS, ROLE, local_session, offline_environment
from harness.modes.sagemaker_local.settings import SageMakerLocalSettings
from harness.run_dir import Endpoint, TrainingResult
from harness.sdk import adapter, estimator_arguments, interrupts_kept
from harness.storage import Storage

HOST_MODULE = "harness.modes.sagemaker_local.endpoint_host"


def compose_projects(container_root: Path) -> list[str]:
    """The docker-compose projects the SDK created under `container_root` (one per folder)."""
    if not container_root.exists():
        return []
    return sorted(d.name for d in container_root.iterdir() if (d / "docker-compose.yaml").exists())


@dataclasses.dataclass(frozen=True)
class ComposeState:
    """This mode's part of an endpoint record: the SDK's compose folder and its projects."""

    container_root: str
    projects: list[str]


class SageMakerLocalMode(EmulatedMode[SageMakerLocalSettings]):
    name = "sagemaker-local"
    reads_in_place = frozenset({channels.FILE_URI})  # SDK local mode mounts file:// inputs

    def __init__(self, config, run):
        super().__init__(config, run)
        offline_environment()

    @property
    def image_uri(self) -> str:
        """The configured image, else harness's image for this machine (CUDA on local_gpu)."""
        return self.settings.image_uri or image.default_image(image.needs_gpu(
            self.settings.instance_type, self.settings.inference_instance_type))

    def estimator_arguments(self, hyperparameters: dict[str, Any]) -> dict[str, Any]:
        return {**estimator_arguments(self.config, self.settings, hyperparameters),
                "image_uri": self.image_uri,
                "py_version": image.PY_VERSION, "role": ROLE}

    def training_image(self) -> str:
        return self.image_uri

    def tracking_uri_in_job(self, uri: str) -> str | None:
        """A tracking server's URL as a container reaches it (this machine's own addresses
        as host.docker.internal); a store on this machine's disk (a path, file:, sqlite:) is
        out of a container's reach."""
        if uri.startswith(("http://", "https://")):
            return tracker.container_url(uri, self.engine)
        return uri if uri.startswith("arn:") else None

    def describe(self) -> dict[str, str]:
        return {"session": "LocalSession: LocalStack S3, containers under docker-compose",
                "inference instance": self.settings.inference_instance_type,
                "inference image": self.image_uri}

    def framework_versions(self) -> dict[str, dict[str, str]]:
        if self.settings.image_uri:  # an image of the user's own
            return super().framework_versions()
        versions = image.framework_versions()
        return {"training": versions, "inference": versions}

    def preflight(self, step: str) -> None:
        if step in ("train", "deploy", "tune", "transform"):  # containers: `harness doctor`'s
            machine.require(machine.Machine(self.config, self.name))  # checks, first failure
        self.engine  # noqa: B018 - every step drives Docker
        if step in ("prepare", "train", "deploy", "tune", "transform"):
            self.s3_url  # noqa: B018 - and these need LocalStack
        if step in ("train", "tune"):
            self._require_s3_inputs()

    def _require_s3_inputs(self) -> None:
        for channel, source in self.config.inputs.items():
            if source.startswith("s3://") and not self.storage.exists(source):
                raise HarnessError(
                    f"inputs.{channel}: {source} is not in LocalStack S3 ({self.s3_url}): "
                    "sagemaker-local reads s3:// inputs from there",
                    f"upload it, e.g. aws --endpoint-url {self.s3_url} s3 cp --recursive "
                    f"<folder> {source}, or give a local path (harness uploads it)")

    @cached_property
    def engine(self):
        return docker_engine.client()

    @cached_property
    def s3_url(self) -> str:
        url = emulator.endpoint_url(self.engine)
        emulator.require(url)
        return url

    @cached_property
    def storage(self) -> Storage:
        """LocalStack's S3, with the run's bucket made if it is not there yet."""
        storage = Storage.s3(
            self.config.s3_root,
            key=CREDENTIALS["aws_access_key_id"], secret=CREDENTIALS["aws_secret_access_key"],
            client_kwargs={"endpoint_url": self.s3_url, "region_name": CREDENTIALS["region_name"]})
        if not storage.fs.exists(self.config.s3.bucket):
            # s3fs's mkdir sends the region as a LocationConstraint, which S3 refuses for us-east-1
            storage.fs.call_s3("create_bucket", Bucket=self.config.s3.bucket)
        return storage

    def _session(self, container_root: Path, local_code: bool = True):
        return local_session(self.s3_url, self.config.s3.bucket, container_root,
                             self.config.endpoint.port, local_code)

    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0,
              environment: dict[str, str] | None = None) -> TrainingResult:
        sdk = adapter()
        estimator_type = sdk.estimator_class(self.config.framework)
        root = self.run.path / "sagemaker-local" / "train"
        checkpoints = self.run.path / "sagemaker-local" / "checkpoints"
        log = self.run.new_train_log()

        def attempt(reclaim: Reclaim) -> None:
            estimator = estimator_type(
                **self.estimator_arguments(hyperparameters), sagemaker_session=self._session(root),
                environment={**(environment or {}), "S3_ENDPOINT_URL": self.s3_url,
                             "AWS_ENDPOINT_URL_S3": self.s3_url})
            reclaim.kill = lambda: docker_engine.kill_compose_projects(
                self.engine, compose_projects(root))
            try:
                with stdout_copied_to(log) as tee, interrupts_kept(), \
                        sdk.checkpoint_volume(checkpoints if self.config.checkpoints.enabled else None):
                    estimator.fit(channels, job_name=job_name)  # the SDK prints container logs
            except Exception as e:
                raise TrainingFailed(job_name, tee.tail, log) from e
            finally:
                self._remove_containers(root)

        self.with_checkpoints(attempt, checkpoints, job_name, interrupt_after)
        return self.trained(job_name)

    def sdk_session(self) -> SdkSession:
        """A LocalSession on LocalStack (the bucket made), the image built; its containers and
        network are removed on `close()`. Code and artifacts go through S3 (no `local_code`),
        so estimator code without `output_path` stores its model in the default bucket, as on
        SageMaker, not in a folder of the SDK's."""
        self.preflight("deploy")  # Docker, LocalStack and the image
        self.storage  # noqa: B018 - makes the bucket
        root = self.run.path / "sagemaker-local" / "sdk"
        s = self.settings
        swapped = adapter().swapped(True, CREDENTIALS["region_name"])  # first: sets the region
        patched = contextlib.ExitStack()
        patched.callback(adapter().user_code_local(ownership.container_labels()))
        # endpoints the user's code deploys are published where harness's own are
        patched.enter_context(adapter().serving_port_bound(self.config.endpoint.bind_address))

        def close() -> None:
            patched.close()
            self._close_sdk_session(root)

        return SdkSession(self._session(root, local_code=False), s.instance_type,
                          s.inference_instance_type, self.image_uri, ROLE, self.config.s3.bucket,
                          instance_count=s.instance_count,
                          **swapped, close=close)

    def _close_sdk_session(self, root: Path) -> None:
        """Remove what SDK code on the session left: its containers (an endpoint still up
        included; the SDK deletes its compose folders, so they are found by owner) and network."""
        owner = ownership.container_labels()[ownership.LABEL_OWNER]
        for container in docker_engine.owned_containers(self.engine, self.run.path, owner):
            docker_engine.force_remove(container)
        self._remove_containers(root)

    def _remove_containers(self, root: Path) -> None:
        import psutil

        command = " ".join(compose.find().command)
        for child in psutil.Process().children(recursive=True):  # compose left by Ctrl-C
            with contextlib.suppress(psutil.Error):
                if command in " ".join(child.cmdline()):
                    child.terminate()
        self._remove_projects(compose_projects(root), root)
        for container in docker_engine.leftover_containers(self.engine, self.run.path):
            # e.g. an endpoint's, once its host process stopped
            docker_engine.force_remove(container)

    def _remove_projects(self, projects: list[str], root: Path) -> None:
        """The SDK leaves its containers, its network and its folder behind: remove them."""
        docker_engine.remove_compose_projects(self.engine, projects)
        docker_engine.remove_sdk_network(self.engine, projects)
        if os.getuid() != 0:  # containers wrote as root: take the files back before deleting
            docker_engine.chown_tree(self.engine, self.image_uri, root.parent, os.getuid(),
                                     os.getgid())
        shutil.rmtree(root, ignore_errors=True)

    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        """The container pip-installs code/requirements.txt itself, as the toolkits do."""
        root = self.run.path / "sagemaker-local" / "serve"
        shutil.rmtree(root, ignore_errors=True)
        ep = self.config.endpoint
        spec = {"s3_url": self.s3_url, "bucket": self.config.s3.bucket,
                "container_root": str(root), "port": ep.port, "bind_address": ep.bind_address,
                "framework": self.config.framework,
                "framework_version": metadata.version("torch").split("+")[0],
                "model_data": self.stage_model(model_data), "image_uri": self.image_uri,
                "instance_type": self.settings.inference_instance_type,
                "endpoint_name": self.endpoint_name, "role": ROLE, "py_version": image.PY_VERSION,
                "startup_timeout_s": ep.startup_timeout_s, "env": self.emulator_environment()}
        try:
            endpoint = endpoint_process.start(
                [sys.executable, "-m", HOST_MODULE, json.dumps(spec)], name=self.endpoint_name,
                port=ep.port, startup_timeout_s=ep.startup_timeout_s,
                log=self.run.path / "endpoint" / "host.log",
                env=ownership.endpoint_env(self.run.path))
        except BaseException:
            self._remove_containers(root)
            raise
        state = ComposeState(str(root), compose_projects(root))
        return dataclasses.replace(endpoint, mode_state=dataclasses.asdict(state))

    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        session = self._session(Path(ComposeState(**endpoint.mode_state).container_root))
        return adapter().predictor(endpoint.name, session, serializer_json=True,
                                   deserializer=CheckedJSONDeserializer()).predict(payload)

    def delete(self, endpoint: Endpoint) -> None:
        endpoint_process.stop(endpoint, grace_s=30)  # the host deletes the endpoint on SIGTERM
        state = ComposeState(**endpoint.mode_state)
        self._remove_projects(state.projects, Path(state.container_root))


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
