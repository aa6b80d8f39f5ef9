"""An endpoint's life, the same in every mode: up, answering, deleted once and for all."""

from __future__ import annotations

from harness.config import load_config
from harness.host import endpoint_process
from harness.job import open_job
from harness.run_dir import Endpoint


def test_deploy_predict_then_delete_twice(mode, contract_job):
    config = contract_job("probe.py")
    for step in ("prepare", "train", "deploy"):
        mode.harness(step, "-c", str(config))
    job = open_job(config, [], mode.name)
    endpoint = job.run.require(Endpoint)
    answer = job.mode.predict(endpoint, {"inputs": ["a fine film", "a dull film"]})
    assert [item["label"] in ("NEGATIVE", "POSITIVE") for item in answer] == [True, True]
    mode.harness("delete", "-c", str(config))
    assert mode.left_behind(config.parent / "run") == []  # no process or container
    assert not endpoint_process.listening(load_config(config).endpoint.port)
    again = mode.harness("delete", "-c", str(config), check=False)
    assert again.returncode == 1 and "run `harness deploy` first" in again.stderr
    job.mode.delete(endpoint)  # deleting what is already gone is no error
    assert mode.left_behind(config.parent / "run") == []



def test_every_registered_mode_is_under_contract():
    """A mode added to the registry must join this suite."""
    from harness import modes
    from tests.contract.conftest import MODES
    from tests.contract.fake_mode import NAME

    assert {getattr(p, "values", [p])[0] for p in MODES} == set(modes.MODES) | {NAME}
