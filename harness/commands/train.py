"""`harness train`: run train.py as a training job; fetch its metrics and plot its curves."""

import json
import shutil
import tarfile
import threading

from harness import plot
from harness.errors import StepError
from harness.job import Job


def train(job: Job, interrupt_after: int = 0) -> dict:
    with job.step("train"):
        channels = job.run.require("channels", "prepare")
        # Import the plotting library while the job runs, not after it.
        threading.Thread(target=plot.load_pyplot, daemon=True).start()
        result = job.mode.train(channels, job.hyperparameters(), interrupt_after)
        output = job.run.path / "output"
        archive = job.mode.download(result["output_artifact"], job.run.path / "output.tar.gz")
        shutil.rmtree(output, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(output, filter="data")
        metrics_file = output / "data" / "metrics.json"
        if not metrics_file.exists():
            raise StepError(f"the training job wrote no {metrics_file.relative_to(output)}",
                            "train.py must write metrics.json to $SM_OUTPUT_DATA_DIR")
        history = json.loads((output / "data" / "log_history.json").read_text())
        curves = plot.training_curves(history, job.run.path / "training_curves.png")
        return job.run.save(training=result, metrics=json.loads(metrics_file.read_text()),
                            plot=str(curves))
