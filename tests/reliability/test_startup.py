"""The startup wait: `endpoint.startup_timeout_s` decides, in local mode and in SDK local mode."""

from __future__ import annotations

import time

import psutil
import pytest

from harness import sdk
from harness.errors import StepError
from harness.host import endpoint_process
from harness.host.endpoint_process import free_port
from harness.sdk.v2 import allow_startup
from harness.serving.limits import Limits
from tests.reliability.conftest import start_process, with_inference

SLOW_LOAD = '''
import time

def model_fn(model_dir):
    time.sleep(600)
'''


def test_too_slow_startup_fails_after_the_configured_wait_and_leaves_nothing(
        tiny_classifier, tmp_path):
    model_dir = with_inference(tiny_classifier, tmp_path, SLOW_LOAD)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(StepError, match="did not answer /ping within 3 s") as error:
        start_process(model_dir, tmp_path / "server.log", Limits(), startup_timeout_s=3)
    assert time.monotonic() - started < 15
    assert "endpoint.startup_timeout_s" in error.value.hint
    left = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []
    assert not any("harness.serving" in " ".join(p.cmdline()) and str(model_dir) in
                   " ".join(p.cmdline()) for p in psutil.process_iter() if _readable(p))


def _readable(process: psutil.Process) -> bool:
    try:
        process.cmdline()
        return True
    except psutil.Error:
        return False


@pytest.mark.skipif(sdk.major() != 2, reason="patches SDK v2's local mode")
def test_sdk_local_mode_waits_as_long_as_configured(monkeypatch):
    """SDK local mode's own /ping wait (120 s, hard-coded) follows endpoint.startup_timeout_s."""
    from sagemaker.local import entities

    monkeypatch.setattr(entities, "HEALTH_CHECK_TIMEOUT_LIMIT", entities.HEALTH_CHECK_TIMEOUT_LIMIT)
    allow_startup(300)
    assert entities.HEALTH_CHECK_TIMEOUT_LIMIT >= 300
    # The SDK's real wait reads the value at each check: with a 0 s startup wait it gives up
    # after one failed check instead of 120 s.
    allow_startup(0)
    port = free_port()
    assert not endpoint_process.listening(port)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="Giving up"):
        entities._wait_for_serving_container(port)
    assert time.monotonic() - started < 15
