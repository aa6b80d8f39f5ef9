"""An endpoint process on this machine: start it, wait for `/ping`, call it, stop it.

The process is the model server itself (`local`) or the host that holds an SDK local-mode
endpoint (`sagemaker-local`); either way it outlives the command that started it."""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness.errors import StepError
from harness.host.process import start_detached, stop_group
from harness.run_dir import Endpoint

SERVER_MODULE = "harness.serving"


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(log: Path, lines: int = 25) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def serve_command(model_dir: Path, *, name: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The model server for one unpacked model folder, on loopback unless `host` says
    otherwise; its limits and conventions come from the environment."""
    return [sys.executable, "-m", SERVER_MODULE, "--model-dir", str(model_dir),
            "--host", host, "--port", str(port), "--endpoint-name", name]


def start(cmd: list[str], *, name: str, port: int, startup_timeout_s: float, log: Path,
          env: dict[str, str]) -> Endpoint:
    """Run `cmd` (`python -m <module> ...`) detached; return once `/ping` answers on `port`."""
    if listening(port):
        raise StepError(f"port {port} is already in use",
                        "run `harness delete` if an endpoint of yours is still up, "
                        "or set endpoint.port to a free port")
    proc = start_detached(cmd, env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _pings(url):
            if proc.poll() is not None:
                raise StepError(f"the endpoint exited with code {proc.returncode} while "
                                f"starting:\n{_log_tail(log)}", f"see {log}")
            if time.monotonic() > deadline:
                raise StepError(f"the endpoint did not answer /ping within "
                                f"{startup_timeout_s:.0f} s", "raise endpoint.startup_timeout_s "
                                f"or see {log}")
            time.sleep(0.2)
    except BaseException:  # includes Ctrl-C: never leave a half-started server behind
        stop_group(proc.pid)
        raise
    return Endpoint(name=name, url=url, port=port, pid=proc.pid, log=str(log),
                    module=cmd[cmd.index("-m") + 1])


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop(endpoint: Endpoint, grace_s: float = 10) -> None:
    """Stop the endpoint process and wait until its port is free; one already gone is fine."""
    pid, port = endpoint.pid, endpoint.port
    assert pid is not None and port is not None and endpoint.module is not None, \
        "an endpoint process's record"
    if _runs(pid, endpoint.module):
        stop_group(pid, grace_s)
    deadline = time.monotonic() + 5
    while listening(port):
        if time.monotonic() > deadline:
            raise StepError(f"port {port} is still in use after stopping the endpoint",
                            f"find the process with `ss -ltnp 'sport = :{port}'`")
        time.sleep(0.1)


def _runs(pid: int, module: str) -> bool:
    """True when `pid` still runs `python -m module` (pids get reused)."""
    import psutil

    try:
        return module in psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
