"""An endpoint's life, the same in every mode: up, answering, deleted once and for all."""

from __future__ import annotations

from harness import endpoint_process
from harness.config import load_config
from harness.job import open_job
from harness.run_dir import Endpoint
from tests.conftest import harness
from tests.contract.conftest import left_behind


def test_deploy_predict_then_delete_twice(mode, contract_job):
    config = contract_job("probe.py")
    for step in ("prepare", "train", "deploy"):
        harness(step, "-c", str(config), "--mode", mode)
    job = open_job(config, [], mode)
    endpoint = job.run.require(Endpoint)
    answer = job.mode.predict(endpoint, {"inputs": ["a fine film", "a dull film"]})
    assert [item["label"] in ("NEGATIVE", "POSITIVE") for item in answer] == [True, True]
    harness("delete", "-c", str(config), "--mode", mode)
    assert not endpoint_process.listening(load_config(config).endpoint.port)
    again = harness("delete", "-c", str(config), "--mode", mode, check=False)
    assert again.returncode == 1 and "run `harness deploy` first" in again.stderr
    job.mode.delete(endpoint)  # deleting what is already gone is no error
    assert left_behind(config.parent / "run") == []
