"""`harness tune` and `harness transform` in both emulated modes, end to end: real training
jobs (accelerate in `local`, SDK local mode's containers in `sagemaker-local`), the mode's own
model server, LocalStack's S3."""

from __future__ import annotations

import json
import os
import re
import signal
import tarfile
import time
from pathlib import Path

import psutil
import pytest

from harness.host import invocations
from harness.host.endpoint_process import free_port
from tests.support.cli import harness, harness_process
from tests.support.runs import REPO, read_object, state, write_config
from tests.user_script import conftest as user_script
from tests.user_script.conftest import write_user_config

user_code, user_data = user_script.user_code, user_script.user_data  # its fixtures, here too

pytestmark = pytest.mark.e2e
MODES = ["local", "sagemaker-local"]
EVAL_LOSS = re.compile(r"eval_loss\W+([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")
LR_RANGE = {"type": "continuous", "min_value": 1e-5, "max_value": 1e-3,
            "scaling_type": "Logarithmic"}
# What the Hugging Face toolkit takes is {"inputs": ...}; filters select, they cannot rename.
REVIEW_FILTERS = {"content_type": "application/json", "accept": "application/json",
                  "split_type": "Line", "strategy": "SingleRecord", "assemble_with": "Line",
                  "input_filter": "$['id','inputs']", "join_source": "Input",
                  "output_filter": "$['id','label','SageMakerOutput']"}


@pytest.fixture(params=MODES)
def mode(request) -> str:
    if request.param == "sagemaker-local":
        request.getfixturevalue("sagemaker_local_stack")
    return request.param


def read_output(mode: str, uri: str) -> str:
    if mode == "sagemaker-local":
        from harness.containers import emulator

        return read_object(emulator.endpoint_url(), uri).decode()
    return Path(uri).read_text()


def packed(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for entry in sorted(folder.iterdir()):
            tar.add(entry, arcname=entry.name)
    return target


@pytest.fixture
def reviews(tmp_path) -> tuple[Path, list[dict]]:
    """The shipped test file, as the toolkit's requests: an id, `inputs` and the label."""
    rows = [json.loads(line) for line in
            (REPO / "data" / "sentiment" / "test.jsonl").read_text().splitlines()]
    records = [{"id": i, "inputs": row["text"], "label": row["label"]}
               for i, row in enumerate(rows)]
    path = tmp_path / "input" / "reviews.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path, records


def containers_of(folder: Path) -> list[str]:
    """Containers harness labelled with a run dir under `folder` (other engineers' and
    tests' containers on this machine are not ours to count)."""
    from harness.containers import docker_engine
    from harness.host import ownership

    engine = docker_engine.client()
    return [c.name for c in docker_engine.labelled_containers(engine, ownership.LABEL_RUN)
            if c.labels[ownership.LABEL_RUN].startswith(str(folder))]


def processes_of(folder: Path) -> list[str]:
    """Processes whose command line names `folder` (servers, trials)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if str(folder) in line and process.pid != os.getpid():
            found.append(line)
    return found


def test_transform_joins_each_record_with_the_endpoints_answer(mode, tmp_path, tiny_classifier,
                                                               reviews):
    data, records = reviews
    config = write_config(tmp_path, model_data=str(packed(tiny_classifier,
                                                          tmp_path / "model.tar.gz")),
                          endpoint={"port": free_port(), "startup_timeout_s": 120},
                          s3={"prefix": f"transform-{mode}-{time.time_ns()}"},
                          transform={"data": str(data.parent), **REVIEW_FILTERS})
    result = harness("transform", "-c", str(config), "--mode", mode)
    done = state(config)["transform"]
    assert done["records"] == len(records) == 100
    [output] = done["outputs"]
    assert output.endswith("/reviews.jsonl.out") and output in result.stdout
    rows = [json.loads(line) for line in read_output(mode, output).splitlines()]
    # one output per record, in order, joined with its input, filtered to id, label, prediction
    assert [set(row) for row in rows] == [{"id", "label", "SageMakerOutput"}] * len(records)
    assert [(row["id"], row["label"]) for row in rows] == [(r["id"], r["label"]) for r in records]
    assert processes_of(tmp_path) == []  # the transform's model server is gone
    if mode == "sagemaker-local":
        assert containers_of(tmp_path) == []
    harness("deploy", "-c", str(config), "--mode", mode)
    try:
        url = state(config)["endpoint"]["url"]
        answers = [invocations.invoke(url, {"inputs": r["inputs"]}) for r in records]
    finally:
        harness("delete", "-c", str(config), "--mode", mode)
    for row, answer in zip(rows, answers, strict=True):
        assert row["SageMakerOutput"][0]["label"] == answer[0]["label"]
        assert row["SageMakerOutput"][0]["score"] == pytest.approx(answer[0]["score"], abs=1e-6)


USER_INFERENCE = '''"""A linear model's serving code, as SageMaker's docs write one: CSV rows in, one
prediction per row out."""
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)


def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    return [float(line.split(",")[0]) for line in body.splitlines()]


def predict_fn(rows, model):
    return [model["a"] * x + model["b"] for x in rows]


def output_fn(predictions, accept):
    return "\\n".join(f"{y:.4f}" for y in predictions), accept
'''


def test_transform_with_a_users_own_inference_py(mode, tmp_path):
    """CSV, MultiRecord: the model sees only x ($[1:]), the output keeps the id and y."""
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "weights.json").write_text('{"a": 2.0, "b": 1.0}')
    (model / "code" / "inference.py").write_text(USER_INFERENCE)
    data = tmp_path / "points"
    (data / "part").mkdir(parents=True)
    (data / "a.csv").write_text("".join(f"{i},{i / 10}\n" for i in range(30)))
    (data / "part" / "b.csv").write_text("100,0.5\n101,-1.5\n")
    config = write_config(tmp_path, model_data=str(packed(model, tmp_path / "model.tar.gz")),
                          endpoint={"port": free_port(), "startup_timeout_s": 120},
                          s3={"prefix": f"user-transform-{mode}-{time.time_ns()}"},
                          transform={"data": str(data), "content_type": "text/csv",
                                     "accept": "text/csv", "split_type": "Line",
                                     "strategy": "MultiRecord", "assemble_with": "Line",
                                     "input_filter": "$[1:]", "join_source": "Input",
                                     "output_filter": "$[0,-1]"})
    harness("transform", "-c", str(config), "--mode", mode)
    outputs = sorted(state(config)["transform"]["outputs"])
    assert [o.rpartition(state(config)["transform"]["job_name"])[2] for o in outputs] == [
        "/a.csv.out", "/part/b.csv.out"]  # sub-folders kept
    assert read_output(mode, outputs[0]) == "".join(
        f"{i},{2 * (i / 10) + 1:.4f}\n" for i in range(30))
    assert read_output(mode, outputs[1]) == "100,2.0000\n101,-2.0000\n"
    assert processes_of(tmp_path) == []
    if mode == "sagemaker-local":
        assert containers_of(tmp_path) == []


def trial_losses(folder: Path) -> list[float]:
    return [float(v) for v in EVAL_LOSS.findall((folder / "train.log").read_text())]


def test_tune_picks_the_best_trial_and_deploy_serves_it(mode, tmp_path):
    config = write_config(
        tmp_path, dataset={"max_train_samples": 64, "max_eval_samples": 32},
        hyperparameters={"epochs": 1, "train_batch_size": 16, "logging_steps": 2},
        endpoint={"port": free_port(), "startup_timeout_s": 120},
        s3={"prefix": f"tune-{mode}-{time.time_ns()}"},
        tuning={"objective_metric_name": "eval_loss", "objective_type": "Minimize",
                "strategy": "Random", "random_seed": 11, "max_jobs": 4,
                "max_parallel_jobs": 2, "hyperparameter_ranges": {"learning_rate": LR_RANGE}})
    result = harness("tune", "-c", str(config), "--mode", mode)
    tuning = state(config)["tuning"]
    trials = tuning["trials"]
    assert [t["status"] for t in trials] == ["Completed"] * 4
    rates = [t["hyperparameters"]["learning_rate"] for t in trials]
    assert len(set(rates)) == 4 and all(1e-5 <= r <= 1e-3 for r in rates)
    for trial in trials:  # the objective is the last eval_loss the job's log printed
        assert trial["objective"] == trial_losses(Path(trial["folder"]))[-1]
        if mode == "local":  # the job got the trial's value
            sent = json.loads((Path(trial["folder"]) / "job" / "input" / "config" /
                               "hyperparameters.json").read_text())
            assert float(sent["learning_rate"]) == trial["hyperparameters"]["learning_rate"]
    best = min(trials, key=lambda t: t["objective"])
    assert tuning["best_training_job"] == best["training_job"]
    assert len({t["objective"] for t in trials}) > 1  # the rates made a difference
    best_row = next(line for line in result.stdout.splitlines() if line.startswith("*"))
    assert best["training_job"] in best_row
    assert Path(tuning["plot"]).stat().st_size > 10_000
    harness("deploy", "-c", str(config), "--mode", mode)
    try:
        endpoint = state(config)["endpoint"]
        assert best["training_job"] in endpoint["model_data"]
        answer = invocations.invoke(endpoint["url"], {"inputs": "A wonderful film."})
        assert answer[0]["label"] in ("POSITIVE", "NEGATIVE")
    finally:
        harness("delete", "-c", str(config), "--mode", mode)
    if mode == "sagemaker-local":
        assert containers_of(tmp_path) == []


def test_tune_a_users_own_script_through_its_metric_definitions(tmp_path, user_code,
                                                                 user_data):
    config = write_user_config(
        tmp_path, user_code, {channel: str(path) for channel, path in user_data.items()},
        tuning={"objective_metric_name": "validation:mse", "objective_type": "Minimize",
                "strategy": "Bayesian", "random_seed": 3, "max_jobs": 3,
                "max_parallel_jobs": 2, "early_stopping_type": "Auto",
                "hyperparameter_ranges": {"lr": {"type": "continuous", "min_value": 0.001,
                                                 "max_value": 0.5,
                                                 "scaling_type": "Logarithmic"}}})
    site = tmp_path / "site"  # pip installs there, not into the environment the tests share
    harness("tune", "-c", str(config), "--install-requirements",  # its requirements.txt
            env={"PIP_TARGET": str(site), "PYTHONPATH": str(site)})
    assert (site / "harness_probe_dep" / "__init__.py").is_file()
    tuning = state(config)["tuning"]
    assert len(tuning["trials"]) == 3
    finished = [t for t in tuning["trials"] if t["status"] == "Completed"]
    for trial in tuning["trials"]:
        logged = re.findall(r"Test set: Average loss: ([0-9.]+)",
                            (Path(trial["folder"]) / "train.log").read_text())
        assert trial["series"] == [float(v) for v in logged]
    best = min(finished, key=lambda t: t["objective"])
    assert tuning["best_training_job"] == best["training_job"]


def test_ctrl_c_stops_every_trial(tmp_path):
    config = write_config(
        tmp_path, hyperparameters={"epochs": 3},
        tuning={"objective_metric_name": "eval_loss", "max_jobs": 4, "max_parallel_jobs": 2,
                "hyperparameter_ranges": {"learning_rate": LR_RANGE}})
    harness("prepare", "-c", str(config))
    # Ctrl-C reaches it even where pytest runs with SIGINT ignored (a background job)
    process = harness_process("tune", "-c", str(config), preexec_fn=lambda: signal.signal(
        signal.SIGINT, signal.SIG_DFL))
    trials = tmp_path / "run" / "tuning"
    deadline = time.monotonic() + 120
    while len(list(trials.glob("*/train.log"))) < 2:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.5)
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 2
    process.send_signal(signal.SIGINT)
    assert process.wait(120) == 130
    psutil.wait_procs(children, timeout=10)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert processes_of(tmp_path) == []


SLOW_INFERENCE = USER_INFERENCE.replace("def predict_fn(rows, model):\n",
                                        "def predict_fn(rows, model):\n    import time\n"
                                        "    time.sleep(0.5)\n")


def interrupted(config: Path, command: str, mode: str, started) -> None:
    """Run `harness <command>`, Ctrl-C it once `started()`, and check it stopped cleanly."""
    process = harness_process(command, "-c", str(config), "--mode", mode,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not started():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.5)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    assert process.wait(180) == 130


def test_ctrl_c_stops_a_transform_and_leaves_nothing(mode, tmp_path):
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "weights.json").write_text('{"a": 2.0, "b": 1.0}')
    (model / "code" / "inference.py").write_text(SLOW_INFERENCE)
    (tmp_path / "points.csv").write_text("".join(f"{i},{i / 10}\n" for i in range(200)))
    out = tmp_path / "out"
    config = write_config(tmp_path, model_data=str(packed(model, tmp_path / "model.tar.gz")),
                          endpoint={"port": free_port(), "startup_timeout_s": 120},
                          transform={"data": str(tmp_path / "points.csv"), "output_path": str(out),
                                     "content_type": "text/csv", "accept": "text/csv",
                                     "split_type": "Line", "strategy": "SingleRecord"})
    interrupted(config, "transform", mode,
                started=lambda: any("serving" in p or "endpoint_host" in p
                                    for p in processes_of(tmp_path)))
    assert not out.exists() or list(out.rglob("*")) == []  # no partial .out
    assert processes_of(tmp_path) == []
    if mode == "sagemaker-local":
        assert containers_of(tmp_path) == []


def test_ctrl_c_stops_every_trial_in_containers(tmp_path, sagemaker_local_stack):
    config = write_config(
        tmp_path, hyperparameters={"epochs": 3}, s3={"prefix": f"tune-stop-{time.time_ns()}"},
        tuning={"objective_metric_name": "eval_loss", "max_jobs": 4, "max_parallel_jobs": 2,
                "hyperparameter_ranges": {"learning_rate": LR_RANGE}})
    harness("prepare", "-c", str(config), "--mode", "sagemaker-local")
    interrupted(config, "tune", "sagemaker-local",
                started=lambda: len(containers_of(tmp_path)) >= 2)
    assert processes_of(tmp_path) == []
    assert containers_of(tmp_path) == []
