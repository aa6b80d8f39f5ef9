"""The sagemaker-local flow needs no network beyond loopback and the project's own containers.

harness runs in a network namespace that has only loopback. LocalStack's address and the
endpoint's port are relayed into it over unix sockets; nothing else is reachable. Containers get
an iptables rule that drops (and counts) any packet leaving the private address ranges. An
audit hook logs every name lookup and connect of every Python process harness starts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, state, write_config

HERE = Path(__file__).parent
PRIVATE = ("172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8")
RULE = ["-m", "comment", "--comment", "harness-no-egress"]


def iptables(*args: str) -> str:
    return subprocess.run(["iptables", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def container_egress_dropped():
    """DOCKER-USER: containers may reach private addresses only; yields the drop counter."""
    if not shutil.which("iptables") or not shutil.which("unshare"):
        pytest.fail("iptables and unshare are needed (Debian: iptables, util-linux)")
    rules = [[*RULE, "-d", net, "-j", "RETURN"] for net in PRIVATE] + [[*RULE, "-j", "DROP"]]
    for rule in reversed(rules):
        iptables("-I", "DOCKER-USER", *rule)

    def dropped() -> int:
        listing = iptables("-L", "DOCKER-USER", "-v", "-n", "-x")
        line = next(l for l in listing.splitlines() if "DROP" in l and "harness-no-egress" in l)
        return int(line.split()[0])

    try:
        yield dropped
    finally:
        for rule in rules:
            iptables("-D", "DOCKER-USER", *rule)


def test_sagemaker_local_flow_without_egress(tmp_path, tiny_bert, sentiment_files,
                                             sagemaker_local_stack, container_egress_dropped):
    port = free_port()
    config = write_config(
        tmp_path, model=str(tiny_bert),
        dataset={"train_file": str(sentiment_files["train"]),
                 "test_file": str(sentiment_files["test"]), "max_length": 64},
        hyperparameters={"epochs": 1, "train_batch_size": 8, "learning_rate": 1e-3},
        endpoint={"port": port, "startup_timeout_s": 120}, s3={"prefix": "no-egress"})
    s3_host, s3_port = re.match(r"http://([\d.]+):(\d+)", sagemaker_local_stack).groups()
    sockets, audit = tmp_path / "sockets", tmp_path / "net-audit.log"
    sockets.mkdir()
    outside = subprocess.Popen(
        [sys.executable, str(HERE / "relay.py"),
         f"unix:{sockets / 's3'}=tcp:{s3_host}:{s3_port}",
         f"unix:{sockets / 'endpoint'}=tcp:127.0.0.1:{port}"], stdout=subprocess.PIPE)
    assert outside.stdout.readline().strip() == b"relaying"
    inside = f"""
        set -e
        ip link set lo up
        ip addr add {s3_host}/32 dev lo
        {sys.executable} {HERE / 'relay.py'} \
            tcp:{s3_host}:{s3_port}=unix:{sockets / 's3'} \
            tcp:127.0.0.1:{port}=unix:{sockets / 'endpoint'} > /dev/null &
        sleep 1
        ! {sys.executable} -c "import socket; socket.create_connection(('1.1.1.1', 443), 3)" \
            2> /dev/null
        echo "no route out: confirmed"
        export PYTHONPATH={HERE / 'audit'} NET_AUDIT_LOG={audit}
        {sys.executable} -m harness run -c {config} --mode sagemaker-local
    """
    try:
        started = time.monotonic()
        result = subprocess.run(["unshare", "--net", "bash", "-c", inside], capture_output=True,
                                text=True, timeout=900)
    finally:
        outside.kill()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "no route out: confirmed" in result.stdout
    run = state(config)
    assert run["prediction"]["response"] and run["metrics"]["eval_accuracy"] >= 0
    assert time.monotonic() - started < 900

    # Nothing looked up or connected to anything but loopback, LocalStack and local sockets.
    events = audit.read_text().splitlines()
    assert any("connect" in e for e in events), "the audit hook saw nothing: is it loaded?"
    assert not [e for e in events if "amazonaws" in e or "aws.amazon" in e]
    allowed = re.compile(rf"connect \('(127\.0\.0\.1|{re.escape(s3_host)})', \d+\)|connect '/"
                         rf"|lookup (localhost|127\.0\.0\.1|{re.escape(s3_host)})$")
    assert not [e for e in events if not allowed.search(e.split(" ", 1)[1])]
    assert container_egress_dropped() == 0  # and no container tried to leave
