"""`harness prepare`: load, check and tokenize the dataset; store it where training reads it."""

from pathlib import Path

from harness import data
from harness.config import resolve_model
from harness.job import Job


def prepare(job: Job) -> dict:
    with job.step("prepare"):
        model_source = resolve_model(job.config)
        splits = data.prepare(job.config, model_source)
        channels = {split: job.mode.save_dataset(splits[split], split) for split in data.SPLITS}
        if Path(model_source).is_dir():
            channels["model"] = job.mode.upload_folder(Path(model_source), "model")
        return job.run.save(channels=channels, labels=splits["train"].features["labels"].names,
                            rows={split: len(splits[split]) for split in data.SPLITS})
