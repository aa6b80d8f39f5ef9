"""Each training job an MLflow run, each tuning job a parent of its trials, `harness runs`,
and a tracker that never fails a run: against a real MLflow server, read back with MLflow's
client. The jobs run a small script of the user's (seconds each) in local mode."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from harness.config import load_config
from harness.host.endpoint_process import free_port
from tests.support.cli import harness
from tests.support.runs import state, write_config
from tests.support.tracking import artifact_paths, metric_history, mlflow_server, runs

pytest.importorskip("mlflow")

SCRIPT = '''
import json, os, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
accuracy = round(0.5 + float(args.get("--learning_rate", "0.001")) * 100, 4)
for step, loss in ((1, 0.9), (2, 0.6)):
    print(f"step {step} loss: {loss}")
print(f"eval_accuracy: {accuracy - 0.05}")
print(f"eval_accuracy: {accuracy}")
out = os.environ["SM_OUTPUT_DATA_DIR"]
history = [{"loss": 0.9, "step": 1}, {"loss": 0.6, "step": 2},
           {"eval_accuracy": accuracy, "step": 2}]
json.dump(history, open(os.path.join(out, "log_history.json"), "w"))
json.dump({"eval_accuracy": accuracy, "train_samples_per_second": 12.5},
          open(os.path.join(out, "metrics.json"), "w"))
open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.bin"), "w").write("w")
if os.environ.get("MLFLOW_RUN_ID"):  # the user's own MLflow logging, as report_to="mlflow"
    import mlflow
    with mlflow.start_run():
        mlflow.log_metric("from_script", 1.0)
'''
METRICS = [{"Name": "eval_accuracy", "Regex": r"eval_accuracy: ([0-9.]+)"},
           {"Name": "loss", "Regex": r"loss: ([0-9.]+)"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


def job(folder: Path, uri: str, experiment: str, **sections) -> Path:
    """A job of the script's on an input folder (no prepare step), tracked to `uri`."""
    (folder / "code").mkdir(parents=True, exist_ok=True)
    (folder / "code" / "train.py").write_text(SCRIPT)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "rows.txt").write_text("a\n")
    sections = {"tracking": {"uri": uri, "experiment": experiment}, **sections}
    return write_config(folder, model=None, dataset=None, source_dir=str(folder / "code"),
                        inputs={"train": str(folder / "data")}, metric_definitions=METRICS,
                        hyperparameters={"learning_rate": 0.002, "epochs": 1},
                        endpoint={"port": free_port()}, **sections)


def test_a_training_job_is_a_run_with_params_tags_metrics_and_artifacts(tmp_path, server):
    config = job(tmp_path, server, "one-job")
    commit = in_a_git_repository(tmp_path)
    ran = harness("train", "-c", str(config))
    assert "warning" not in ran.stdout + ran.stderr
    (run,) = runs(server, "one-job")
    recorded = state(config)
    assert run.info.status == "FINISHED" and run.info.run_name == recorded["training"]["job_name"]
    sent = load_config(config).sent_hyperparameters
    assert run.data.params == {key: str(value) for key, value in sent.items()}
    assert run.data.params["learning_rate"] == "0.002"
    tags = run.data.tags
    assert tags["harness.mode"] == "local" and tags["harness.instance_type"] == "local"
    assert tags["harness.job_name"] == recorded["training"]["job_name"]
    assert tags["harness.model_artifact"] == recorded["training"]["model_artifact"]
    assert len(tags["harness.config_hash"]) == 12 and tags["harness.image"]
    assert tags["mlflow.source.git.commit"] == commit  # the config's folder is in a checkout
    assert run.data.metrics["eval_accuracy"] == recorded["metrics"]["eval_accuracy"] == 0.7
    assert run.data.metrics["train_samples_per_second"] == 12.5
    assert metric_history(server, run.info.run_id, "loss") == [(1, 0.9), (2, 0.6)]
    assert run.data.metrics["from_script"] == 1.0  # the script logged into the same run
    assert artifact_paths(server, run.info.run_id) == {
        "config.yaml", "model_location.txt", "training_curves.png"}


def in_a_git_repository(folder: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], check=True, text=True,
                              capture_output=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
        "--allow-empty", "-m", "start")
    return git("rev-parse", "HEAD")


def test_a_tracker_that_is_down_is_one_warning_and_the_run_goes_on(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    config = job(tmp_path, closed, "nowhere")
    ran = harness("train", "-c", str(config))
    said = (ran.stdout + ran.stderr).splitlines()
    warnings = [line for line in said if "warning" in line.lower()]
    assert len(warnings) == 1, said
    assert closed in warnings[0] and "state.json" in warnings[0]
    assert state(config)["metrics"]["eval_accuracy"] == 0.7


def test_tracking_off_leaves_mlflow_alone(tmp_path, server):
    config = job(tmp_path, server, "off", tracking={"uri": server, "experiment": "off",
                                                    "enabled": False})
    harness("train", "-c", str(config))
    from mlflow import MlflowClient

    assert MlflowClient(tracking_uri=server).get_experiment_by_name("off") is None


def test_a_tuning_job_is_a_parent_run_of_its_trials(tmp_path, server):
    tuning = {"objective_metric_name": "eval_accuracy", "objective_type": "Maximize",
              "max_jobs": 2, "max_parallel_jobs": 1, "strategy": "Random", "random_seed": 3,
              "hyperparameter_ranges": {"learning_rate": {
                  "type": "continuous", "min_value": 0.001, "max_value": 0.004}}}
    config = job(tmp_path, server, "tuned", tuning=tuning)
    harness("tune", "-c", str(config))
    found = runs(server, "tuned")
    (parent,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in found if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    recorded = state(config)["tuning"]
    assert len(children) == 2 == len(recorded["trials"])
    assert {c.data.tags["harness.job_name"] for c in children} == \
        {t["training_job"] for t in recorded["trials"]}
    for child in children:
        trial = next(t for t in recorded["trials"]
                     if t["training_job"] == child.data.tags["harness.job_name"])
        assert float(child.data.params["learning_rate"]) == trial["hyperparameters"][
            "learning_rate"]
        assert child.data.metrics["eval_accuracy"] == trial["objective"]
    (best,) = [c for c in children if c.data.tags.get("harness.best_trial") == "true"]
    assert best.data.tags["harness.job_name"] == recorded["best_training_job"]
    assert parent.data.metrics["eval_accuracy"] == max(t["objective"] for t in recorded["trials"])
    assert parent.info.status == "FINISHED" and "leaderboard.json" in artifact_paths(
        server, parent.info.run_id)


def test_runs_lists_and_compares(tmp_path, server):
    config = job(tmp_path, server, "listed")
    harness("train", "-c", str(config))
    harness("train", "-c", str(config), "--set", "hyperparameters.learning_rate=0.003")
    listed = harness("runs", "-c", str(config)).stdout.splitlines()
    assert "2 runs" in listed[0] and listed[1].split()[:4] == ["run", "id", "name", "mode"]
    newest, oldest = (line.split() for line in listed[2:4])
    # the key metrics: the metric definitions' (eval_accuracy, loss), in their order
    assert newest[2:4] == ["local", "FINISHED"] and newest[-2:] == ["0.8", "0.6"]
    assert oldest[-2] == "0.7"
    compared = harness("runs", "compare", newest[0], oldest[1], "-c", str(config)).stdout
    rows = {line.lstrip("* ").split("  ")[0]: line for line in compared.splitlines()[1:]}
    assert rows["param learning_rate"].startswith("*") and "0.003" in rows[
        "param learning_rate"]
    assert not rows["param epochs"].startswith("*")
    assert rows["metric eval_accuracy"].startswith("*")
    missing = harness("runs", "compare", "nope", oldest[0], "-c", str(config), check=False)
    assert missing.returncode == 1 and "no run 'nope'" in missing.stderr


def test_runs_without_tracking_says_how_to_turn_it_on(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = write_config(tmp_path)
    ran = harness("runs", "-c", str(config), check=False)
    assert ran.returncode == 1 and "tracking is off" in ran.stderr and "tracking:" in ran.stderr


class Refusing(http.server.BaseHTTPRequestHandler):
    """A tracker that answers its health check and finds the experiment, then refuses every
    write (as a server with a full disk or a lost database does)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.startswith("/health"):
            return self.answer(200, b"OK")
        if "experiments/get-by-name" in self.path:
            return self.answer(200, json.dumps({"experiment": {
                "experiment_id": "1", "name": "refused", "lifecycle_stage": "active"}}).encode())
        return self.answer(400, b'{"error_code": "INVALID_STATE", "message": "read-only"}')

    def do_POST(self):  # noqa: N802
        self.answer(400, b'{"error_code": "INVALID_STATE", "message": "the store is read-only"}')

    def answer(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_tracker_that_refuses_writes_is_one_warning_and_the_run_goes_on(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        config = job(tmp_path, url, "refused")
        ran = harness("train", "-c", str(config))
    finally:
        server.shutdown()
        server.server_close()
    warnings = [line for line in (ran.stdout + ran.stderr).splitlines()
                if "warning" in line.lower()]
    assert len(warnings) == 1 and "read-only" in warnings[0] and "state.json" in warnings[0]
    assert state(config)["metrics"]["eval_accuracy"] == 0.7
