"""An emulated AWS for `--mode sagemaker`, reached only through `AWS_ENDPOINT_URL`.

moto's server (in this process, on loopback) is the control plane and S3. moto answers the API
but runs nothing, so `AwsEmulator` adds the data plane SageMaker would have:

- **Training.** On CreateTrainingJob the job runs for real with harness's local runner: the
  `/opt/ml` tree of `modes/local/job_tree.py` (the job's hyperparameters, its channels and its
  `sourcedir.tar.gz` fetched from the emulated S3), the toolkit's `SM_*` environment and
  `accelerate launch`. Its output goes to CloudWatch Logs, where the SDK's log polling reads it;
  `model.tar.gz` and `output.tar.gz` go to its S3 output path; its status goes InProgress, then
  Completed or Failed (AlgorithmError, with the failure file in output.tar.gz). The local runner,
  not the image, because the control-plane path is what is under test here (the image's training
  contract has its own tests in sagemaker-local) and it needs no Docker.
- **Hosting.** On CreateEndpoint, harness's model server starts on the model's `model.tar.gz` with
  the model's container environment; InvokeEndpoint is forwarded to it; DeleteEndpoint stops it.
- **StopTrainingJob**, which moto lacks, stops a running job.

Knobs: `fail_training` / `fail_endpoint` (a FailureReason: the job or endpoint is flipped to
Failed in moto's backend instead of running) and `training_proceeds` / `endpoints_proceed`
(Events, set: clear one and jobs stay InProgress, or endpoints Creating, until it is set again,
or the job is stopped, or the endpoint deleted). Witnesses: `requests` (every
request the emulator received: service and operation) and `egress` (every name lookup and
connection this process made to anything but loopback).

In a test, take the `aws` fixture (tests/conftest.py loads this module as a plugin) and run any
step against it:

    def test_train(aws, tiny_job):
        config = aws.config(tiny_job, prefix="train")   # role, bucket and prefix set
        aws.harness("prepare", "-c", str(config))
        aws.harness("train", "-c", str(config))     # --mode sagemaker, --yes, the environment

The SDK's polling sleeps (5, 10 and 30 s) advance a virtual clock in this process instead.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from harness.host import endpoint_process, invocations
from harness.host.endpoint_process import free_port
from harness.host.process import stop_group
from harness.modes.local.job_tree import TrainingJobTree
from harness.modes.local.mode import launch_command
from harness.run_dir import Endpoint
from harness.storage import Storage

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecutionRole"
BUCKET = "harness-emulated"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
SPENDING = ("run", "train", "deploy")  # the commands that ask before spending money
LOOPBACK = ("127.0.0.1", "::1", "localhost")
EXCEPTION = re.compile(r"^[\w.]+(Error|Exception): ")


class EndpointNotFound(ServiceException):  # what InvokeEndpoint answers (HTTP 400)
    code = "ValidationError"


class ModelError(ServiceException):  # the model server answered an error (HTTP 424)
    code = "ModelError"

    def __init__(self, status: int, message: str):
        super().__init__(f"Received client error ({status}) from primary with message "
                         f'"{message}".')
        self.original_status_code, self.original_message = status, message


# Where each SDK major's polling loops (`wait_for_*`, log tailing) take `time` from.
POLLING_MODULE = {2: "sagemaker.session", 3: "sagemaker.core.helper.session_helper"}


class FastClock:
    """The SDK session's `time` (`POLLING_MODULE`): its polling sleeps advance a virtual clock, with a short
    real sleep so that the data plane's threads move on."""

    def __init__(self, real_sleep_s: float = 0.2):
        self.offset, self.real_sleep_s = 0.0, real_sleep_s

    def sleep(self, seconds: float) -> None:
        self.offset += seconds
        time.sleep(min(seconds, self.real_sleep_s))

    def time(self) -> float:
        return time.time() + self.offset


class RecordingMotoServer(ThreadedMotoServer):
    """moto's threaded server, telling `on_request` about each request first."""

    def __init__(self, on_request):
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.on_request = on_request

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)

        def recording(environ, start_response):
            self.on_request(environ)
            return app(environ, start_response)

        self._server = make_server(self._ip_address, self._port, recording, True)
        self._server_ready_event.set()
        self._server.serve_forever()


_active: AwsEmulator | None = None  # the emulator the audit hook reports to
_audit_installed = False  # audit hooks cannot be removed: one for the whole process


def _audit(event: str, args) -> None:
    if _active is None:
        return
    if event == "socket.getaddrinfo" and args[0] not in (None, *LOOPBACK):
        _active.egress.append(f"lookup {args[0]}")
    elif (event == "socket.connect" and isinstance(args[1], tuple)
          and args[1][0] not in LOOPBACK):
        _active.egress.append(f"connect {args[1]}")


class AwsEmulator:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.requests: list[dict[str, str]] = []
        self.egress: list[str] = []
        self.fail_training: str | None = None
        self.fail_endpoint: str | None = None
        self.training_proceeds = threading.Event()
        self.endpoints_proceed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: dict[str, Endpoint] = {}  # endpoint name -> its model server
        self._stops: dict[str, threading.Event] = {}  # job name -> set to stop it
        self._patches: list[tuple[type, str, object]] = []

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> AwsEmulator:
        global _active, _audit_installed
        logging.getLogger("werkzeug").disabled = True  # no line per request, no 500 tracebacks
        self.server = RecordingMotoServer(self._record)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        emulator = self
        original_create_job = SageMakerModelBackend.create_training_job
        original_create_endpoint = SageMakerModelBackend.create_endpoint
        original_delete_endpoint = SageMakerModelBackend.delete_endpoint

        def create_training_job(backend, **kwargs):
            return emulator._started_job(original_create_job(backend, **kwargs))

        def create_endpoint(backend, *args, **kwargs):
            return emulator._started_endpoint(original_create_endpoint(backend, *args, **kwargs))

        def delete_endpoint(backend, endpoint_name):
            original_delete_endpoint(backend, endpoint_name)
            emulator._stop_server(endpoint_name)

        def stop_training_job(response):  # moto has no StopTrainingJob
            emulator._stop_job(response._get_param("TrainingJobName"))
            return "{}"

        def invoke_endpoint(response):
            return emulator._invoke(response)

        self._patch(SageMakerModelBackend, "create_training_job", create_training_job)
        self._patch(SageMakerModelBackend, "create_endpoint", create_endpoint)
        self._patch(SageMakerModelBackend, "delete_endpoint", delete_endpoint)
        self._patch(SageMakerResponse, "stop_training_job", stop_training_job)
        self._patch(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
        if not _audit_installed:
            sys.addaudithook(_audit)
            _audit_installed = True
        self.training_proceeds.set()
        self.endpoints_proceed.set()
        _active = self
        return self

    def _patch(self, owner: type, name: str, value) -> None:
        self._patches.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, value)

    def reset(self) -> None:
        """Back to an empty AWS: stop jobs and endpoints, empty every backend and record."""
        self.training_proceeds.set()
        self.endpoints_proceed.set()
        for stop in self._stops.values():
            stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        for name in list(self._servers):
            self._stop_server(name)
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset",
                                                      method="POST"), timeout=30).close()
        self._threads.clear()
        self._stops.clear()
        self.requests.clear()
        self.egress.clear()
        self.fail_training = self.fail_endpoint = None

    def stop(self) -> None:
        global _active
        self.reset()
        for owner, name, original in reversed(self._patches):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self.server.stop()
        _active = None

    # -- what tests use -----------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str | None]:
        """The environment of a harness command against the emulator (None: unset)."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"],
                "AWS_DEFAULT_REGION": REGION, "AWS_REGION": None, "AWS_PROFILE": None,
                "AWS_SESSION_TOKEN": None, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "no-credentials"),
                "AWS_CONFIG_FILE": str(self.workdir / "no-config")}

    def environ(self) -> dict[str, str]:
        """This process's environment with `env` applied: for a harness subprocess."""
        unset = {key for key, value in self.env.items() if value is None}
        return {**{k: v for k, v in os.environ.items() if k not in unset},
                **{k: v for k, v in self.env.items() if v is not None}}

    def config(self, config: Path, prefix: str, **sagemaker) -> Path:
        """`config` with the emulator's role and bucket, S3 prefix `prefix` and these
        `modes.sagemaker` settings, written next to it."""
        data = yaml.safe_load(config.read_text())
        modes = data.setdefault("modes", {})
        modes["sagemaker"] = {**modes.get("sagemaker", {}), "role": ROLE, **sagemaker}
        data["s3"] = {**data.get("s3", {}), "bucket": BUCKET, "prefix": prefix}
        path = config.with_name(f"{config.stem}-emulated.yaml")
        path.write_text(yaml.safe_dump(data))
        return path

    def harness(self, *args: str, check: bool = True, env: dict | None = None):
        """`harness <args> --mode sagemaker` in this process, against the emulator (with
        `--yes` where the command asks before spending money)."""
        from tests.support.cli import harness

        extra = ("--yes",) if args[0] in SPENDING else ()
        return harness(*args, "--mode", "sagemaker", *extra, check=check,
                       env={**self.env, **(env or {})})

    def client(self, service: str, region: str = REGION):
        return boto3.client(service, endpoint_url=self.url, region_name=region, **KEYS)

    def sagemaker(self, region: str = REGION) -> SageMakerModelBackend:
        """moto's SageMaker backend: its objects are the ones the API describes."""
        return get_backend("sagemaker")[ACCOUNT][region]

    def objects(self, prefix: str = "") -> list[str]:
        """The keys under `prefix` in the emulator's bucket, sorted."""
        s3 = self.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        try:
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        except s3.exceptions.NoSuchBucket:
            return []

    def hosting(self) -> dict[str, list[str]]:
        """What is left of endpoints: endpoints, endpoint configs and models."""
        sm = self.client("sagemaker")
        return {"endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]],
                "endpoint configs": [c["EndpointConfigName"] for c in
                                     sm.list_endpoint_configs()["EndpointConfigs"]],
                "models": [m["ModelName"] for m in sm.list_models()["Models"]]}

    def served(self, endpoint_name: str):
        """The model server's record of a running endpoint, or None."""
        return self._servers.get(endpoint_name)

    def wait_for(self, condition, timeout_s: float = 120, what: str = "the condition"):
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(0.1)

    # -- requests ------------------------------------------------------------------------------

    def _record(self, environ) -> None:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return
        scope = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2].split("/")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        operation = (target.rpartition(".")[2] or query.get("Action", [""])[0]
                     or f"{environ.get('REQUEST_METHOD')} {path}")
        self.requests.append({"service": scope[3] if len(scope) > 3 else "?",
                              "operation": operation})

    # -- training ------------------------------------------------------------------------------

    def _started_job(self, job):
        job.training_job_status, job.secondary_status = "InProgress", "Starting"
        job.failure_reason = None  # every attribute the data plane sets exists from the start:
        job.training_time_in_seconds = job.billable_time_in_seconds = None  # moto describes
        self._stops[job.training_job_name] = threading.Event()  # jobs from their attributes
        self._spawn(self._train, job)
        return job

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _stop_job(self, name: str) -> None:
        job = self.sagemaker().training_jobs[name]
        if job.training_job_status == "InProgress":
            job.training_job_status, job.secondary_status = "Stopping", "Stopping"
            self._stops[name].set()

    def _train(self, job) -> None:
        name, started = job.training_job_name, time.monotonic()
        stop = self._stops[name]
        while not (self.training_proceeds.wait(0.1) or stop.is_set()):
            pass
        if stop.is_set():
            job.training_job_status = job.secondary_status = "Stopped"
            return
        if self.fail_training:  # failed by the platform, before the script ran
            job.failure_reason = self.fail_training
            job.training_job_status = job.secondary_status = "Failed"
            return
        logs = CloudWatchStream(self.client("logs"), name)
        with tempfile.TemporaryDirectory(dir=self.workdir, prefix=f"{name}-") as root:
            error, returncode = self._run_job(job, Path(root), logs, stop)
        logs.flush()
        job.training_time_in_seconds = job.billable_time_in_seconds = max(
            1, int(time.monotonic() - started))
        if stop.is_set():
            job.training_job_status = job.secondary_status = "Stopped"
        elif returncode:
            job.failure_reason = (f"AlgorithmError: ExecuteUserScriptError:\nExitCode "
                                  f"{returncode}\nErrorMessage \"{error}\"")
            job.training_job_status = job.secondary_status = "Failed"
        else:
            job.training_job_status = job.secondary_status = "Completed"

    def _run_job(self, job, root: Path, logs: CloudWatchStream, stop: threading.Event):
        """Run the job as SageMaker would; return (its error line, its exit code)."""
        hyperparameters = job.hyper_parameters
        storage = self.storage(job.output_data_config["S3OutputPath"])
        job.secondary_status = "Downloading"
        code = root / "code"
        with storage.open(json.loads(hyperparameters["sagemaker_submit_directory"])) as source, \
                tarfile.open(fileobj=source) as tar:
            tar.extractall(code, filter="data")
        tree = TrainingJobTree(root / "ml")
        tree.lay_out(hyperparameters=hyperparameters, storage=storage, code=code,
                     channels={c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                               for c in job.input_data_config})
        env, args = tree.toolkit_environment()
        program = json.loads(hyperparameters["sagemaker_program"])
        job.secondary_status = "Training"
        proc = subprocess.Popen(
            [*launch_command(1, int(env["SM_NUM_CPUS"])), str(code / program), *args],
            env={**os.environ, **env, "SAGEMAKER_BASE_DIR": str(tree.root)}, cwd=code,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)
        threading.Thread(target=lambda: stop.wait() and stop_group(proc.pid, 5),
                         daemon=True).start()
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip())
            logs.put(line.rstrip())
        returncode = proc.wait()
        # As the toolkit reports it: the script's exception (the launcher's follows it).
        error = next((line for line in lines if EXCEPTION.match(line)), lines[-1] if lines else "")
        tree.mark(failure=None if returncode == 0 else "\n".join(lines[-40:]))
        job.secondary_status = "Uploading"
        tree.pack(storage, job.training_job_name)
        return error, returncode

    def storage(self, root: str) -> Storage:
        return Storage.s3(root, key=KEYS["aws_access_key_id"],
                          secret=KEYS["aws_secret_access_key"],
                          client_kwargs={"endpoint_url": self.url, "region_name": REGION})

    # -- hosting -------------------------------------------------------------------------------

    def _started_endpoint(self, endpoint):
        endpoint.endpoint_status = "Creating"
        endpoint.failure_reason = None
        self._spawn(self._host, endpoint)
        return endpoint

    def _host(self, endpoint) -> None:
        name = endpoint.endpoint_name
        while not self.endpoints_proceed.wait(0.1):
            if name not in self.sagemaker().endpoints:
                return
        try:
            if self.fail_endpoint:
                raise RuntimeError(self.fail_endpoint)
            backend = self.sagemaker()
            variant = backend.endpoint_configs[endpoint.endpoint_config_name] \
                .production_variants[0]
            container = backend._models[variant["ModelName"]].primary_container
            folder = self.workdir / "endpoints" / name
            model_dir = folder / "model"
            with self.storage(f"s3://{BUCKET}").open(container["ModelDataUrl"]) as source, \
                    tarfile.open(fileobj=source) as tar:
                tar.extractall(model_dir, filter="data")  # as SageMaker unpacks /opt/ml/model
            port = free_port()
            self._servers[name] = endpoint_process.start(
                endpoint_process.serve_command(model_dir, name=name, port=port), name=name,
                port=port, startup_timeout_s=120, log=folder / "server.log",
                env={**os.environ, **(container.get("Environment") or {})})
        except Exception as e:  # noqa: BLE001 - any failure to start fails the endpoint
            endpoint.failure_reason = str(e)[:1024]
            endpoint.endpoint_status = "Failed"
            return
        if name in self.sagemaker().endpoints:
            endpoint.endpoint_status = "InService"
        else:  # deleted while it started
            self._stop_server(name)

    def _stop_server(self, name: str) -> None:
        served = self._servers.pop(name, None)
        if served is not None:
            endpoint_process.stop(served)

    def _invoke(self, response):
        name = urllib.parse.unquote(response.path.split("/")[2])  # /endpoints/<name>/invocations
        endpoint = self.sagemaker(response.region).endpoints.get(name)
        served = self._servers.get(name)
        if endpoint is None or endpoint.endpoint_status != "InService" or served is None:
            raise EndpointNotFound(f"Endpoint {name} of account {ACCOUNT} not found.")
        headers = {key: response.headers[key] for key in
                   ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")
                   if response.headers.get(key)}
        answer = invocations.request(served.url, response.raw_body, headers)
        if answer.status >= 400:
            raise ModelError(answer.status, answer.body.decode(errors="replace"))
        return 200, {"Content-Type": answer.content_type,
                     "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, answer.body


class CloudWatchStream:
    """A training job's log stream, where the SDK reads it: lines are sent in batches."""

    def __init__(self, logs, job_name: str):
        self.logs, self.stream = logs, f"{job_name}/algo-1-{int(time.time())}"
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=LOG_GROUP)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=self.stream)
        self.pending: list[dict] = []
        self.sent = time.monotonic()

    def put(self, line: str) -> None:
        self.pending.append({"timestamp": int(time.time() * 1000), "message": line or " "})
        if len(self.pending) >= 50 or time.monotonic() - self.sent > 0.5:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=self.stream,
                                     logEvents=self.pending)
        self.pending, self.sent = [], time.monotonic()


_emulator: AwsEmulator | None = None


@pytest.fixture(scope="session")
def aws_emulator(tmp_path_factory):
    """The emulator of this test process (see `aws` for a test's use): one, however many
    modules import this fixture, since it patches moto's classes."""
    global _emulator
    if _emulator is None:
        _emulator = AwsEmulator(tmp_path_factory.mktemp("aws-emulator")).start()
    yield _emulator
    if _emulator is not None:  # the first of the session's teardowns stops it
        _emulator.stop()
        _emulator = None


@pytest.fixture
def aws(aws_emulator, monkeypatch):
    """An empty emulated AWS for one test, with the SDK's polling sleeps made virtual."""
    from harness import sdk

    # Imported before the reset: importing v2 makes a Session (the JumpStart constants), and
    # its credential lookup is not the test's.
    polling = importlib.import_module(POLLING_MODULE[sdk.major()])
    aws_emulator.reset()
    monkeypatch.setattr(polling, "time", FastClock())
    yield aws_emulator
    aws_emulator.reset()
