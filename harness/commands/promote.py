"""`harness promote`: what changes when a config goes from `sagemaker-local` to `sagemaker`."""

from harness import modes
from harness.job import Job

# What promotion is allowed to change: the session, the instances (type and count) and the
# image (the image brings its Python), plus settings only the cloud has.
EXPECTED = {"session", "instance_type", "instance_count", "image_uri", "py_version", "role",
            "inference instance", "inference image", "code_location", "max_run",
            "use_spot_instances", "max_wait"}


def promote(job: Job, source: str = "sagemaker-local", target: str = "sagemaker") -> dict:
    """Side by side, the estimator arguments and endpoint of both modes, and which differ."""
    left = modes.load(source)(job.config, job.run)
    right, _ = modes.load(target)(job.config, job.run).rehearsal()  # needs no credentials
    hyperparameters = job.hyperparameters()
    sides = [{**mode.estimator_arguments(hyperparameters), **mode.describe()}
             for mode in (left, right)]
    keys = list(dict.fromkeys([*sides[0], *sides[1]]))
    rows = [(key, sides[0].get(key, "-"), sides[1].get(key, "-")) for key in keys]
    differ = {key for key, a, b in rows if a != b}
    return {"modes": (source, target), "rows": rows, "differ": sorted(differ),
            "unexpected": sorted(differ - EXPECTED)}
