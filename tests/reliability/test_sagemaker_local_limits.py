"""In `sagemaker-local`, the configured limits reach the serving container."""

from __future__ import annotations

import json

from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import state

MODE = ("--mode", "sagemaker-local")


def test_limits_reach_the_container(tiny_job, sagemaker_local_stack):
    port = free_port()
    settings = ("--set", f"endpoint.port={port}", "--set", "endpoint.max_batch_size=2",
                "--set", "s3.prefix=limits")
    for step in ("prepare", "train", "deploy"):
        harness(step, "-c", str(tiny_job), *MODE, *settings)
    try:
        ok = harness("predict", "-c", str(tiny_job), *MODE, *settings, "--json",
                     json.dumps({"inputs": ["a fine film", "dull"]}))
        assert [a["label"] in ("NEGATIVE", "POSITIVE") for a in json.loads(ok.stdout)] == \
            [True, True]
        refused = harness("predict", "-c", str(tiny_job), *MODE, *settings, "--json",
                          json.dumps({"inputs": ["a", "b", "c"]}), check=False)
        assert refused.returncode == 1
        assert "the endpoint answered 400" in refused.stderr
        assert "more than the limit of 2 (endpoint.max_batch_size)" in refused.stderr
    finally:
        harness("delete", "-c", str(tiny_job), *MODE, *settings)
    assert not endpoint_process.listening(port)
    assert state(tiny_job)["endpoint"] is None
