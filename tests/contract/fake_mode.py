"""A mode that lives in this process, registered through the same registry as the real ones
(as llm's tests register a mock model): the contract suite runs against it too, so the suite
tests the interface, not one implementation.

Its storage is fsspec's in-memory filesystem, so channels are downloaded into the job tree
(File mode) rather than linked; its launcher is plain `python`; its endpoint is the real model
server in a thread of this process.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from functools import cached_property
from typing import Any

from harness import model_artifact, modes
from harness.checkpoints import Reclaim
from harness.errors import StepError
from harness.host import endpoint_process, invocations
from harness.host.process import kill_group, run_tee
from harness.modes.base import TrainingFailed
from harness.modes.emulated import EmulatedMode
from harness.modes.local.job_tree import TrainingJobTree, encode_hyperparameters
from harness.modes.local.settings import LocalSettings
from harness.run_dir import Endpoint, TrainingResult
from harness.storage import Storage

NAME = "fake"
SERVERS: dict[int, Any] = {}  # port -> the ModelServer serving it


TARGET = f"{__name__}:FakeMode"
SETTINGS = "harness.modes.local.settings:LocalSettings"


def register() -> None:
    """For a CLI process of its own; tests in this process use the `fake_mode` fixture."""
    modes.register(NAME, TARGET, SETTINGS)


class FakeMode(EmulatedMode[LocalSettings]):
    name = NAME

    def __init__(self, config, run):
        self.config, self.run, self.settings = config, run, LocalSettings()

    @cached_property
    def storage(self) -> Storage:
        import fsspec

        return Storage(f"memory:/{self.run.path}/{self.config.s3.bucket}/{self.config.s3_prefix}",
                       fsspec.filesystem("memory"))

    def describe(self) -> dict[str, str]:
        return {"session": "this process", "inference instance": "a thread",
                "inference image": "none"}

    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0,
              environment: dict[str, str] | None = None) -> TrainingResult:
        source_dir = self.config.resolve(self.config.source_dir)
        tree = TrainingJobTree(self.run.path / "fake-job")
        tree.lay_out(hyperparameters=encode_hyperparameters(
            hyperparameters, program=self.config.entry_point, submit_dir=str(source_dir),
            name=job_name, region="fake"), channels=channels, code=source_dir,
            storage=self.storage)
        env, args = tree.toolkit_environment()
        env = {**os.environ, **(environment or {}), **env, "SAGEMAKER_BASE_DIR": str(tree.root)}
        command = [sys.executable, str(source_dir / self.config.entry_point), *args]

        def attempt(reclaim: Reclaim) -> None:
            def started(proc):
                reclaim.kill = lambda: kill_group(proc.pid)

            code, tail = run_tee(command, env=env, cwd=source_dir, log=self.run.train_log,
                                 on_start=started)
            if code:
                raise TrainingFailed(job_name, tail, self.run.train_log)

        self.run.new_train_log()
        tree.run(lambda: self.with_checkpoints(attempt, tree.root / "checkpoints", job_name,
                                               interrupt_after), self.storage, job_name)
        return self.trained(job_name)

    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        from harness.serving.handler import Handler
        from harness.serving.server import ModelServer

        port = self.config.endpoint.port
        if endpoint_process.listening(port):
            raise StepError(f"port {port} is already in use")
        model_dir = self.run.path / "fake-endpoint"
        shutil.rmtree(model_dir, ignore_errors=True)
        with self.open_artifact(model_data) as source:
            model_artifact.unpack(source, model_dir, self.config.inference_code(), model_data)
        limits = self.config.endpoint.limits
        server = ModelServer(("127.0.0.1", port), Handler(model_dir, limits.max_batch_size),
                             self.endpoint_name, limits)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        SERVERS[port] = server
        return Endpoint(name=self.endpoint_name, url=f"http://127.0.0.1:{port}", port=port)

    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        return invocations.invoke(endpoint.url, payload)

    def delete(self, endpoint: Endpoint) -> None:
        server = SERVERS.pop(endpoint.port, None)
        if server:
            server.shutdown()
            server.server_close()
