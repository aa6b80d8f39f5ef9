"""`python -m harness.serving`: serve one model folder (the container's `serve`).

The limits, the toolkit conventions (`HARNESS_FRAMEWORK`) and the endpoint's name
(`HARNESS_ENDPOINT_NAME`) come from the environment, as a SageMaker serving container is
configured (see harness/serving/limits.py)."""

import argparse
import logging
import os
import signal
import sys

from harness.serving import user_code
from harness.serving.handler import CONVENTIONS, FRAMEWORK_ENV, Handler
from harness.serving.limits import Limits
from harness.serving.server import ENDPOINT_NAME_ENV, ModelServer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.serving", description=__doc__)
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080)))
    parser.add_argument("--endpoint-name", default=os.environ.get(ENDPOINT_NAME_ENV),
                        help="answer the Runtime API paths only for this endpoint name")
    parser.add_argument("--framework", choices=sorted(CONVENTIONS),
                        default=os.environ.get(FRAMEWORK_ENV, "huggingface"),
                        help="whose toolkit conventions to follow")
    parser.add_argument("--install-requirements", action="store_true",
                        help="pip-install code/requirements.txt first, as a serving container "
                             "does")
    args = parser.parse_args(argv)
    limits = Limits.from_env()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    if args.install_requirements:
        user_code.install_requirements(args.model_dir)
    try:
        handler = Handler(args.model_dir, limits.max_batch_size, args.framework)
    except Exception as e:  # noqa: BLE001 - the user's code failed: show its frames only
        shown = user_code.failure(e, args.model_dir)
        if shown is None:
            raise
        raise SystemExit(f"the model's inference code failed to load:\n{shown}") from None
    server = ModelServer((args.host, args.port), handler, args.endpoint_name, limits)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("harness.serving").info(
        "serving %s (%s conventions) on %s:%d with %s", args.model_dir, args.framework,
        args.host, args.port, limits)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
