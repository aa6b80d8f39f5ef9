"""`harness prepare`: load, check and tokenize the dataset; store the channels training reads."""

from harness import channels
from harness.config import JobConfig
from harness.dataset import loading
from harness.errors import StepError
from harness.job import Job
from harness.run_dir import Prepared
from harness.storage import Storage


def prepare(job: Job) -> Prepared:
    if not job.config.dataset:
        raise StepError("nothing to prepare: the config has no `dataset`",
                        "`harness train` reads the config's `inputs` as they are; set `dataset` "
                        "(and `model`) to have harness tokenize one")
    with job.step("prepare"):
        prepared = store_channels(job.config, job.storage)
        job.run.save(prepared=prepared)
        return prepared


def store_channels(config: JobConfig, storage: Storage) -> Prepared:
    """The tokenized splits, and a local model folder, stored where training reads them."""
    source = config.model_source()
    splits = loading.prepare(config, str(source.folder or source.name),
                          from_hub=source.folder is None)
    planned = channels.planned(config, storage)
    for split in loading.SPLITS:
        storage.save_dataset(splits[split], planned[split])
    if source.folder:
        storage.replace(source.folder, planned[channels.MODEL])
    return Prepared(channels=planned, labels=splits["train"].features["labels"].names,
                    rows={split: len(splits[split]) for split in loading.SPLITS})
