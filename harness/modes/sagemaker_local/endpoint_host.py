"""Keeps one SDK local-mode endpoint alive between CLI calls; SIGTERM deletes it.

SDK local mode runs the serving container under a `docker-compose up` owned by the process that
called `deploy()`, so that process must outlive `harness deploy`. Started by the
`sagemaker-local` mode with a JSON spec as its only argument.
"""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from harness.host import ownership
from harness.modes.sagemaker_local.session import local_session, offline_environment
from harness.sdk import adapter

stopping = threading.Event()


def _exit(*_):
    stopping.set()  # the SDK swallows exceptions while it waits for /ping: remember the stop
    raise SystemExit(0)


def main() -> None:
    spec = json.loads(sys.argv[1])
    os.environ[ownership.OWNER] = ownership.owner_of(os.getpid())  # its containers live as long as it
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    offline_environment()
    sdk = adapter()
    sdk.allow_startup(spec["startup_timeout_s"])
    session = local_session(spec["s3_url"], spec["bucket"], Path(spec["container_root"]),
                            spec["port"])
    model = sdk.serving_model(spec["framework"], framework_version=spec["framework_version"],
                              py_version=spec["py_version"], model_data=spec["model_data"],
                              image_uri=spec["image_uri"], role=spec["role"], env=spec["env"],
                              sagemaker_session=session)
    try:
        # Local mode's create_endpoint already waits for /ping; wait=True would add a 30 s poll.
        with sdk.serving_port_bound(spec["bind_address"]):
            model.deploy(initial_instance_count=1, instance_type=spec["instance_type"],
                         endpoint_name=spec["endpoint_name"], wait=False)
        while not stopping.is_set():  # short sleeps: a signal caught by another thread is
            time.sleep(0.2)  # handled promptly
    finally:
        session.sagemaker_client.delete_endpoint(EndpointName=spec["endpoint_name"])
        print("endpoint deleted", flush=True)


if __name__ == "__main__":
    main()
