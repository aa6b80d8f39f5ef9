"""The sagemaker-local flow needs no network beyond loopback and the project's own containers,
and the local MLflow tracker (`harness tracker`) sends nothing off the machine either.

harness runs in a network namespace whose one link to this host routes only LocalStack's
address and the endpoint's port; nothing else is reachable. Containers get
an iptables rule that drops (and counts) any packet leaving the private address ranges. An
audit hook logs every name lookup and connect of every Python process harness starts. The
tracker's container runs under the same iptables rule."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from harness.host.endpoint_process import free_port
from tests.support.runs import state, write_config
from tests.support.tracking import runs

HERE = Path(__file__).parent
PRIVATE = ("172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8")
HOST_IP, NS_IP = "10.203.0.1", "10.203.0.2"  # the namespace's one link to this host
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
        line = next(row for row in listing.splitlines()
                    if "DROP" in row and "harness-no-egress" in row)
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
        # the namespace reaches the endpoint over its link to this host, not over loopback
        endpoint={"port": port, "startup_timeout_s": 120, "bind_address": "0.0.0.0"},
        s3={"prefix": "no-egress"}, tracking={"uri": f"sqlite:///{tmp_path / 'mlruns.db'}",
                                              "experiment": "no-egress"})
    s3_host = re.match(r"http://([\d.]+):\d+", sagemaker_local_stack).group(1)
    audit, ready = tmp_path / "net-audit.log", tmp_path / "link-ready"
    host_if, ns_if = f"hv{port}", f"nv{port}"
    # Inside: loopback, and one link to this host whose only routes are LocalStack's address
    # and the endpoint's port (localhost:port is forwarded to the host, where Docker publishes it).
    inside = f"""
        set -e
        while [ ! -e {ready} ]; do sleep 0.1; done
        ip link set lo up
        ip addr add {NS_IP}/30 dev {ns_if}
        ip link set {ns_if} up
        ip route add {s3_host}/32 dev {ns_if}
        sysctl -qw net.ipv4.conf.all.route_localnet=1
        iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport {port} -j DNAT --to {HOST_IP}:{port}
        iptables -t nat -A POSTROUTING -o {ns_if} -j MASQUERADE
        ! {sys.executable} -c "import socket; socket.create_connection(('1.1.1.1', 443), 3)" \
            2> /dev/null
        echo "no route out: confirmed"
        export PYTHONPATH={HERE / 'audit'} NET_AUDIT_LOG={audit}
        timeout 600 {sys.executable} -m harness run -c {config} --mode sagemaker-local
    """
    namespace = subprocess.Popen(["unshare", "--net", "bash", "-c", inside],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if,
                        "netns", str(namespace.pid)], check=True)
        subprocess.run(["ip", "addr", "add", f"{HOST_IP}/30", "dev", host_if], check=True)
        subprocess.run(["ip", "link", "set", host_if, "up"], check=True)
        ready.touch()
        out, err = namespace.communicate(timeout=660)
    finally:
        namespace.kill()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
    assert namespace.returncode == 0, out[-3000:] + err[-3000:]
    assert "no route out: confirmed" in out
    run = state(config)
    assert run["prediction"]["response"]
    (tracked,) = runs(f"sqlite:///{tmp_path / 'mlruns.db'}", "no-egress")  # MLflow too
    assert tracked.info.status == "FINISHED" and tracked.data.metrics

    # Nothing looked up or connected to anything but loopback, LocalStack and local sockets.
    events = audit.read_text().splitlines()
    assert any("connect" in e for e in events), "the audit hook saw nothing: is it loaded?"
    allowed = re.compile(rf"connect \('(127\.0\.0\.1|{re.escape(s3_host)})', \d+\)|connect '/"
                         rf"|lookup (localhost|127\.0\.0\.1|{re.escape(s3_host)})$")
    assert not [e for e in events if not allowed.search(e.split(" ", 1)[1])]
    assert container_egress_dropped() == 0  # and no container tried to leave


def test_tracker_sends_nothing_off_the_machine(tracker_engine, container_egress_dropped, tmp_path):
    """The MLflow server, started, used (a run, an artifact, its UI) and stopped under the rule,
    sends nothing off the machine, and says its telemetry (at start, in the UI, at exit) is off."""
    from mlflow import MlflowClient

    from harness.containers import docker_engine, tracker
    from tests.support.cli import harness

    harness("tracker", "down")  # its start too runs under the rule
    harness("tracker", "up")
    url = tracker.host_url(tracker.default_port())
    client = MlflowClient(url)
    run = client.create_run(client.create_experiment(f"no-egress-{uuid.uuid4().hex[:12]}")).info.run_id
    client.log_metric(run, "loss", 0.5)
    (tmp_path / "notes.txt").write_text("no egress\n")
    client.log_artifact(run, str(tmp_path / "notes.txt"))
    with urllib.request.urlopen(url + "/", timeout=30) as page:
        assert page.status == 200
    # Where telemetry's hosts do not resolve (a closed network) no packet would show it: MLflow
    # itself, in the server's container and environment, says whether its telemetry is off.
    container = docker_engine.compose_containers(tracker_engine, [tracker.PROJECT])[0]
    asked = container.exec_run(["python3", "-c", "from mlflow.telemetry.utils import "
                                "is_telemetry_disabled as off; print(off())"])
    assert asked.output.decode().strip().splitlines()[-1] == "True"
    harness("tracker", "down")  # what telemetry keeps for its exit is sent now, or never
    assert container_egress_dropped() == 0
