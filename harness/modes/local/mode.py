"""`local`: train.py under `accelerate launch` on this machine, a local endpoint process.

Storage is a folder that mirrors S3, `<run_dir>/s3/<bucket>/<prefix>/`, so artifacts have the
same layout as in the SageMaker modes.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from functools import cached_property
from typing import Any

from harness import model_artifact, requirements
from harness.channels import FILE_URI, PATH
from harness.checkpoints import Reclaim
from harness.errors import HarnessError
from harness.host import endpoint_process, invocations, ownership
from harness.host.endpoint_process import free_port
from harness.host.process import kill_group, run_tee
from harness.modes.base import TrainingFailed
from harness.modes.emulated import EmulatedMode
from harness.modes.local.job_tree import TrainingJobTree, encode_hyperparameters
from harness.modes.local.settings import LocalSettings
from harness.run_dir import Endpoint, TrainingResult
from harness.serving import user_code
from harness.storage import Storage

# accelerate's launcher, exiting as the script it ran exited: with its exit code, and without
# its own traceback (a CalledProcessError that says only that the script failed). Inline, so
# the training environment needs no harness on its path.
LAUNCHER = """import subprocess, sys
from accelerate.commands.launch import main
try:
    main()
except subprocess.CalledProcessError as e:
    sys.exit(e.returncode)
"""


def launch_command(processes: int, cores: int) -> list[str]:
    """`accelerate launch` (as `LAUNCHER`) for `processes` train.py processes sharing `cores`.

    One process gets all cores, as in a training container (accelerate's CPU default is 1).
    Several are started by accelerate's torchrun launcher (`--multi_gpu` names it, on CPU too:
    train.py then forms a gloo process group), on a free rendezvous port, the cores split."""
    if processes == 1:
        spread = ["--num_processes", "1"]
    else:
        spread = ["--multi_gpu", "--num_processes", str(processes),
                  "--main_process_port", str(free_port())]
    return [sys.executable, "-c", LAUNCHER, *spread, "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no",
            "--num_cpu_threads_per_process", str(max(1, cores // processes))]


# torchrun's own log lines (`E1203 13:46:48.525000 14582 .../torch/distributed/...`) and the
# summary it prints when a process fails, between two rules: `<script> FAILED`, each process's
# exit code, "Root Cause", a link to its docs; the script's own error came before them.
TORCHRUN_LINE = re.compile(r"^[DIWE]\d{4} [\d:.]+ +\d+ \S*torch/distributed/")
RULE = re.compile(r"^={20,}$")


def without_launcher_traceback(log: str) -> str:
    """The log without the launchers' own reports: accelerate's traceback (a CalledProcessError
    saying that the script failed), which follows the script's and says nothing more, and
    torchrun's log lines and failure summary (several processes)."""
    lines, kept, i = log.splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith("Traceback (most recent call last)"):
            end = i + 1
            while end < len(lines) and lines[end].startswith("  "):
                end += 1
            if any("accelerate/commands/launch.py" in line for line in lines[i:end]):
                i = end + 1  # the frames and the exception line
                continue
        if RULE.match(lines[i]) and i + 1 < len(lines) and lines[i + 1].endswith(" FAILED"):
            end = next((j for j in range(i + 1, len(lines)) if RULE.match(lines[j])), len(lines))
            i = end + 1  # the summary, both rules included
            continue
        if not TORCHRUN_LINE.match(lines[i]):
            kept.append(lines[i])
        i += 1
    return "\n".join(kept)


class LocalMode(EmulatedMode[LocalSettings]):
    name = "local"
    reads_in_place = frozenset({PATH, FILE_URI})  # linked into /opt/ml/input/data

    def preflight(self, step: str) -> None:
        processes = self.settings.processes
        if step != "train" or processes == 1:
            return
        import torch

        gpus = torch.cuda.device_count()
        limit, unit = (gpus, "GPUs") if gpus else (os.cpu_count() or 1, "CPU cores")
        if processes > limit:
            raise HarnessError(f"modes.local.processes is {processes}, but this machine has "
                               f"{limit} {unit}: one process each is the most",
                               f"set modes.local.processes to at most {limit}, or emulate more "
                               "machines with --mode sagemaker-local and "
                               "modes.sagemaker-local.instance_count")

    def check_requirements(self, install: bool) -> None:
        """This Python environment is the container: it must meet requirements.txt already,
        or get it installed when asked."""
        requirements.ensure(self.config.resolve(self.config.source_dir), install=install)

    @cached_property
    def storage(self) -> Storage:
        """Under the config's run dir (not `self.run`'s), so that a mode working beside the
        run (`Mode.beside`) shares it."""
        return Storage.local(self.config.run_path / "s3" / self.config.s3.bucket /
                             self.config.s3_prefix)

    def describe(self) -> dict[str, str]:
        return {"session": "this machine: accelerate launch, <run_dir>/s3 for S3",
                "inference instance": "this machine", "inference image": "none (host Python)"}

    def framework_versions(self) -> dict[str, dict[str, str]]:
        """This environment's: train.py and the endpoint run on the host's Python."""
        from importlib.metadata import version

        versions = {"transformers": version("transformers"),
                    "torch": version("torch").split("+")[0],
                    "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
        return {"training": versions, "inference": versions}

    def train(self, job_name: str, channels: dict[str, str], hyperparameters: dict[str, Any],
              interrupt_after: int = 0,
              environment: dict[str, str] | None = None) -> TrainingResult:
        source_dir = self.config.resolve(self.config.source_dir)
        tree = TrainingJobTree(self.run.path / "job")
        tree.lay_out(
            hyperparameters=encode_hyperparameters(
                hyperparameters, program=self.config.entry_point, submit_dir=str(source_dir),
                name=job_name, region="local"),
            channels=channels, code=source_dir)
        env, args = tree.toolkit_environment()
        cmd = [*launch_command(self.settings.processes, int(env["SM_NUM_CPUS"])),
               str(source_dir / self.config.entry_point), *args]
        # SAGEMAKER_BASE_DIR is the toolkit's own variable for where /opt/ml is.
        env = {**os.environ, **(environment or {}), **env, "SAGEMAKER_BASE_DIR": str(tree.root)}
        log = self.run.new_train_log()

        def attempt(reclaim: Reclaim) -> None:
            def started(proc):
                reclaim.kill = lambda: kill_group(proc.pid)

            code, tail = run_tee(cmd, env=env, cwd=source_dir, log=log, on_start=started)
            if code != 0:
                raise TrainingFailed(job_name, without_launcher_traceback(tail), log, code)

        tree.run(lambda: self.with_checkpoints(attempt, tree.root / "checkpoints", job_name,
                                               interrupt_after), self.storage, job_name)
        return self.trained(job_name)

    def s3_storage(self, uri: str) -> Storage:
        """S3 itself, with the environment's credentials: local mode's storage is a folder."""
        return Storage.s3(uri)

    def deploy(self, model_data: str, install_requirements: bool = False) -> Endpoint:
        model_dir = self.run.path / "endpoint" / "model"
        shutil.rmtree(model_dir, ignore_errors=True)
        model_dir.mkdir(parents=True)
        with self.open_artifact(model_data) as source:  # as SageMaker fills /opt/ml/model
            model_artifact.unpack(source, model_dir, self.config.inference_code(), model_data)
        env = self.emulator_environment()
        # The endpoint runs in this Python environment: its requirements are checked here,
        # where a container would install them.
        requirements.ensure(user_code.code_dir(model_dir, env), install=install_requirements)
        ep, name = self.config.endpoint, self.endpoint_name
        command = endpoint_process.serve_command(model_dir, name=name, port=ep.port,
                                                 host=ep.bind_address)
        return endpoint_process.start(command, name=name, port=ep.port,
                                      startup_timeout_s=ep.startup_timeout_s,
                                      log=self.run.path / "endpoint" / "server.log",
                                      env={**ownership.endpoint_env(self.run.path), **env})

    def predict(self, endpoint: Endpoint, payload: Any) -> Any:
        return invocations.invoke(endpoint.url, payload)

    def delete(self, endpoint: Endpoint) -> None:
        endpoint_process.stop(endpoint)
