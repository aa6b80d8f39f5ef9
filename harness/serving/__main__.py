"""`python -m harness.serving`: serve one model folder (the container's `serve`)."""

import argparse
import logging
import os
import signal
import sys

from harness.serving.handler import Handler
from harness.serving.server import ModelServer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.serving", description=__doc__)
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080)))
    parser.add_argument("--endpoint-name", default=None,
                        help="answer the Runtime API path only for this endpoint name")
    parser.add_argument("--max-body-bytes", type=int, default=6 * 1024 * 1024)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    handler = Handler(args.model_dir)
    server = ModelServer((args.host, args.port), handler, args.endpoint_name,
                         args.max_body_bytes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("harness.serving").info("serving %s on %s:%d", args.model_dir,
                                              args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
