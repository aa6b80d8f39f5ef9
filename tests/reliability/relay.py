"""A tiny byte relay, run as a script: `relay.py LISTEN=TARGET ...`, each side `tcp:HOST:PORT`
or `unix:PATH`. The no-egress test runs one inside a network namespace that has only loopback
and one outside it, joined by unix sockets: the namespace reaches exactly what is relayed."""

import socket
import sys
import threading


def address(spec: str):
    kind, _, rest = spec.partition(":")
    if kind == "unix":
        return socket.AF_UNIX, rest
    host, _, port = rest.rpartition(":")
    return socket.AF_INET, (host, int(port))


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listen: str, target: str) -> None:
    family, where = address(listen)
    server = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(where)
    server.listen(64)
    while True:
        client, _ = server.accept()
        target_family, target_where = address(target)
        upstream = socket.socket(target_family, socket.SOCK_STREAM)
        try:
            upstream.connect(target_where)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    for pair in sys.argv[1:]:
        threading.Thread(target=serve, args=pair.split("="), daemon=True).start()
    print("relaying", flush=True)
    threading.Event().wait()
