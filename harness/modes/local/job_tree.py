"""`local` mode's training job: the `/opt/ml` tree on the host, and the toolkit's environment.

The `SM_*` variables and the script's arguments come from sagemaker-training itself, run
against this tree, so local mode gives train.py exactly what a training container would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

from harness.errors import StepError
from harness.modes.base import TrainingFailed
from harness.storage import Storage, local_path

READ_HINT = ("check the URI (an S3 prefix, or one object); local mode reads s3:// inputs with this "
             "environment's AWS credentials and endpoint (AWS_PROFILE, AWS_ENDPOINT_URL, ...)")
TOOLKIT_ENV = """
import json
from sagemaker_training import environment
env = environment.Environment()
print(json.dumps({"env": env.to_env_vars(), "args": env.to_cmd_args()}))
"""


def encode_hyperparameters(hyperparameters: dict, *, program: str, submit_dir: str,
                           name: str, region: str) -> dict[str, str]:
    """hyperparameters.json as the SDK writes it: every value JSON-encoded."""
    sdk = {"sagemaker_program": program, "sagemaker_submit_directory": submit_dir,
           "sagemaker_region": region, "sagemaker_job_name": name,
           "sagemaker_container_log_level": 20}
    return {key: json.dumps(value) for key, value in {**hyperparameters, **sdk}.items()}


class TrainingJobTree:
    """`root` plays `/opt/ml`: config files, channels, code, model and output folders."""

    def __init__(self, root: Path):
        self.root = root
        self.config_dir = root / "input" / "config"
        self.data_dir = root / "input" / "data"
        self.model_dir = root / "model"
        self.output_dir = root / "output"

    def lay_out(self, *, hyperparameters: dict[str, str], channels: dict[str, str],
                code: Path, storage: Storage | None = None) -> None:
        """The tree for one job. A channel on this machine is linked in (a file, into the
        channel's folder); any other is downloaded, as SageMaker's File input mode does,
        through `storage` when it serves the channels, else with the environment's
        credentials."""
        if self.root.exists():
            shutil.rmtree(self.root)  # a fresh job never sees a previous job's model
        for folder in (self.config_dir, self.data_dir, self.model_dir, self.output_dir / "data"):
            folder.mkdir(parents=True)
        (self.root / "code").symlink_to(code)
        for channel, uri in channels.items():
            self._add_channel(channel, uri, storage)
        self._write("hyperparameters.json", hyperparameters)
        self._write("resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"],
                                            "network_interface_name": "eth0"})
        self._write("inputdataconfig.json", {
            channel: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                      "RecordWrapperType": "None"} for channel in channels})

    def _add_channel(self, channel: str, uri: str, storage: Storage | None) -> None:
        target = self.data_dir / channel
        local = local_path(uri)
        if local is not None and local.is_dir():
            target.symlink_to(local)
        elif local is not None:
            target.mkdir()
            (target / local.name).symlink_to(local)
        else:
            try:
                (storage or Storage.reading(uri)).get_folder(uri, target)
            except Exception as e:  # noqa: BLE001 - no credentials, no endpoint, access denied...
                raise StepError(f"channel {channel}: cannot read {uri}: {e}", READ_HINT) from None
            if not target.exists():
                raise StepError(f"channel {channel}: nothing at {uri}", READ_HINT)

    def _write(self, name: str, content: dict) -> None:
        (self.config_dir / name).write_text(json.dumps(content, indent=2))

    def toolkit_environment(self) -> tuple[dict[str, str], list[str]]:
        """(SM_* variables, script arguments), computed by sagemaker-training."""
        result = subprocess.run([sys.executable, "-c", TOOLKIT_ENV], capture_output=True,
                                text=True, check=True,
                                env={**os.environ, "SAGEMAKER_BASE_DIR": str(self.root)})
        payload = json.loads(result.stdout.strip().splitlines()[-1])
        return payload["env"], payload["args"]

    def mark(self, failure: str | None) -> None:
        """The toolkit's ending: `output/success`, or `output/failure` holding the traceback."""
        if failure is None:
            (self.output_dir / "failure").unlink(missing_ok=True)  # an attempt before a restart
            (self.output_dir / "success").touch()
        else:
            (self.output_dir / "failure").write_text(failure)

    def run(self, job: Callable[[], None], storage: Storage, job_name: str) -> None:
        """Run the job, then mark how it ended and pack its artifacts into storage, as
        SageMaker does, a failed job's output (with its failure file) included."""
        try:
            job()
        except TrainingFailed as failed:
            with contextlib.suppress(OSError):  # a full disk must not hide the script's error
                self.mark(failure=failed.log_tail)
                self.pack(storage, job_name)
            raise
        self.mark(failure=None)
        self.pack(storage, job_name)

    def pack(self, storage: Storage, job: str) -> None:
        """model.tar.gz and output.tar.gz into storage, where SageMaker puts them, with the
        folders' entries at the archive root.

        Stored without compression (still gzip, as SageMaker reads it): weights do not
        compress, and level 9 spent 3.7 s of every local run on the default model."""
        for folder, uri in ((self.model_dir, storage.model_artifact(job)),
                            (self.output_dir, storage.output_artifact(job))):
            try:
                with storage.open(uri, "wb") as sink, \
                        tarfile.open(fileobj=sink, mode="w:gz", compresslevel=0,
                                     dereference=True) as tar:
                    for entry in sorted(folder.iterdir()):
                        tar.add(entry, arcname=entry.name)
            except BaseException:  # a full disk, say: no half archive is left to be deployed
                storage.remove(uri)
                raise
