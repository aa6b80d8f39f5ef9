"""`python -m harness.serving`: serve one model folder (the container's `serve`).

The limits come from the environment (see harness/serving/limits.py), as in a SageMaker
serving container."""

import argparse
import logging
import os
import signal
import sys

from harness.serving.handler import Handler
from harness.serving.limits import Limits
from harness.serving.server import ModelServer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.serving", description=__doc__)
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080)))
    parser.add_argument("--endpoint-name", default=None,
                        help="answer the Runtime API path only for this endpoint name")
    args = parser.parse_args(argv)
    limits = Limits.from_env()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    handler = Handler(args.model_dir, limits.max_batch_size)
    server = ModelServer((args.host, args.port), handler, args.endpoint_name, limits)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("harness.serving").info("serving %s on %s:%d with %s", args.model_dir,
                                              args.host, args.port, limits)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
