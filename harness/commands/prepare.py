"""`harness prepare`: load, check and tokenize the dataset; store the channels training reads."""

from harness import channels, data
from harness.errors import StepError
from harness.job import Job
from harness.run_dir import Prepared


def prepare(job: Job) -> Prepared:
    if not job.config.dataset:
        raise StepError("nothing to prepare: the config has no `dataset`",
                        "`harness train` reads the config's `inputs` as they are; set `dataset` "
                        "(and `model`) to have harness tokenize one")
    with job.step("prepare"):
        source = job.config.model_source()
        splits = data.prepare(job.config, str(source.folder or source.name))
        planned = channels.planned(job.config, job.storage)
        for split in data.SPLITS:
            job.storage.save_dataset(splits[split], planned[split])
        if source.folder:
            job.storage.put_folder(source.folder, planned[channels.MODEL])
        prepared = Prepared(channels=planned, labels=splits["train"].features["labels"].names,
                            rows={split: len(splits[split]) for split in data.SPLITS})
        job.run.save(prepared=prepared)
        return prepared
