"""The endpoint server under idle and trickling sockets, this checkout against an earlier one.

    PYTHONPATH=. python bench/endpoint_sockets.py [--sockets 3000] [--baseline REV]

Each side serves the same model (`python -m harness.serving`, the baseline's from
`git archive REV`). Against each: one client that sends a header byte every 0.5 s (how long
the server keeps it, up to 30 s); then N sockets that connect and send nothing, the server's
thread count 2 s later, and how many of them the server has neither answered nor closed after
the idle timeout (5 s here; the baseline has none). Prints a row per side and
`RATIO threads_per_idle_socket <this checkout / baseline>`.
"""

import argparse
import os
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import psutil
from endpoint_load import free_port, fresh_classifier

from harness.host import endpoint_process

ROOT = Path(__file__).resolve().parents[1]
IDLE_TIMEOUT_S = 5


def checkout(rev: str, folder: Path) -> Path:
    """harness/__init__.py and harness/serving/ as they were at `rev`."""
    folder.mkdir(parents=True)
    archive = folder / "serving.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev,
                    "harness/__init__.py", "harness/serving"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def open_idle(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    return sockets


def trickle_seconds(port: int, limit_s: float = 30) -> float:
    """How long a client sending one header byte every 0.5 s keeps its connection."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(b"POST /invocations HTTP/1.1\r\n")
            while time.monotonic() - started < limit_s:
                sock.sendall(b"X")
                sock.settimeout(0.5)
                try:
                    if sock.recv(1024) == b"":
                        break
                except TimeoutError:
                    pass
        except OSError:
            pass
    return time.monotonic() - started


def still_open(sockets: list[socket.socket]) -> int:
    """The sockets the server has neither answered nor closed."""
    count = 0
    for sock in sockets:
        sock.settimeout(0.01)
        try:
            sock.recv(1)
        except TimeoutError:
            count += 1
        except OSError:
            pass
    return count


def measure(pythonpath: Path, model_dir: Path, sockets: int, log: Path) -> dict:
    port = free_port()
    command = endpoint_process.serve_command(model_dir, name="bench", port=port)
    env = {**os.environ, "PYTHONPATH": str(pythonpath),
           "HARNESS_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S)}
    endpoint = endpoint_process.start(command, name="bench", port=port, startup_timeout_s=120,
                                      log=log, env=env)
    try:
        server = psutil.Process(endpoint.pid)
        trickle = trickle_seconds(port)
        idle = open_idle(port, sockets)
        time.sleep(2)
        threads = server.num_threads()
        time.sleep(IDLE_TIMEOUT_S + 1)
        row = {"connected": len(idle), "threads": threads, "trickle_s": trickle,
               "open_after_idle": still_open(idle)}
        for sock in idle:
            sock.close()
        return row
    finally:
        endpoint_process.stop(endpoint)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=3000)
    parser.add_argument("--baseline", default="5a1628a", help="git revision to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        os.chdir(scratch)  # `python -m` puts the working directory first on sys.path
        model_dir = fresh_classifier(scratch / "model")
        sides = {args.baseline: checkout(args.baseline, scratch / "baseline"), "this": ROOT}
        rows = {name: measure(path, model_dir, args.sockets, scratch / f"{i}.log")
                for i, (name, path) in enumerate(sides.items())}
    print(f"{args.sockets} idle sockets; a client trickling its headers; idle timeout "
          f"{IDLE_TIMEOUT_S} s")
    print(f"{'':<10}{'connected':>10}{'threads':>9}{'trickler held (s)':>19}"
          f"{'idle still open':>17}")
    for name, row in rows.items():
        print(f"{name:<10}{row['connected']:>10}{row['threads']:>9}{row['trickle_s']:>19.1f}"
              f"{row['open_after_idle']:>17}")
    base, this = rows[args.baseline], rows["this"]
    print(f"RATIO threads_per_idle_socket "
          f"{(this['threads'] / this['connected']) / (base['threads'] / base['connected']):.3f}")


if __name__ == "__main__":
    main()
