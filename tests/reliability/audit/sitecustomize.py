"""Logs every name lookup and socket connect of a Python process (and its Python children) to
$NET_AUDIT_LOG, through the interpreter's audit hooks: the no-egress test's witness."""

import os
import sys

LOG = os.environ.get("NET_AUDIT_LOG")


def _hook(event, args):
    if event == "socket.getaddrinfo":
        line = f"lookup {args[0]}"
    elif event == "socket.connect":
        line = f"connect {args[1]!r}"
    else:
        return
    with open(LOG, "a") as f:
        f.write(f"{os.getpid()} {line}\n")


if LOG:
    sys.addaudithook(_hook)
