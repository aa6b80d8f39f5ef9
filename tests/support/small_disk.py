"""Nearly full disks for doctor's disk lines: a small tmpfs mounted for the test (root only),
and a Docker engine stand-in that reports its root directory on one. A second real engine is
not an option: dockerd started with `--bridge=none` deletes the host's docker0 interface."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

API_VERSION = "1.41"


@contextlib.contextmanager
def small_tmpfs(folder: Path, size_mb: int = 8) -> Iterator[Path]:
    """`folder` as a tmpfs of `size_mb`, unmounted afterwards; skips where mounting is not
    allowed (not root, or a container without CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def docker_stand_in(socket_path: Path, info: dict) -> Iterator[str]:
    """A Docker Engine API stand-in on `socket_path` answering /_ping, /version and /info
    (`info`), 404 otherwise; yields its DOCKER_HOST."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            path = re.sub(r"^/v[\d.]+", "", self.path.split("?", 1)[0])
            answers = {"/_ping": "OK", "/info": info,
                       "/version": {"ApiVersion": API_VERSION, "Version": "stand-in"}}
            if path not in answers:
                self.send_error(404, json.dumps({"message": f"{path}: not in the stand-in"}))
                return
            answer = answers[path]
            body = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if isinstance(answer, str)
                             else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def address_string(self):
            return "stand-in"

        def log_message(self, *args):
            pass

    server = _UnixHTTPServer(str(socket_path), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{socket_path}"
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink(missing_ok=True)
