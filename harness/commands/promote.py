"""`harness promote`: what changes when a config goes from `sagemaker-local` to `sagemaker`."""

from harness import modes
from harness.job import Job
from harness.modes.base import FRAMEWORKS, UNKNOWN

# What promotion is allowed to change: the session, the instances (type and count) and the
# image (the image brings its Python), plus settings only the cloud has.
EXPECTED = {"session", "instance_type", "instance_count", "image_uri", "py_version", "role",
            "inference instance", "inference image", "inference env", "code_location", "max_run",
            "use_spot_instances", "max_wait"}


def promote(job: Job, source: str = "sagemaker-local", target: str = "sagemaker") -> dict:
    """Side by side, the estimator arguments and endpoint of both modes, and which differ; and
    the framework versions of each mode's images, marking a change of major version."""
    left = modes.load(source)(job.config, job.run)
    right, _ = modes.load(target)(job.config, job.run).rehearsal()  # needs no credentials
    hyperparameters = job.hyperparameters()
    sides = [{**mode.estimator_arguments(hyperparameters), **mode.describe()}
             for mode in (left, right)]
    keys = list(dict.fromkeys([*sides[0], *sides[1]]))
    rows = [(key, sides[0].get(key, "-"), sides[1].get(key, "-")) for key in keys]
    differ = {key for key, a, b in rows if a != b}
    return {"modes": (source, target), "rows": rows, "differ": sorted(differ),
            "unexpected": sorted(differ - EXPECTED),
            "versions": version_rows(left.framework_versions(), right.framework_versions())}


def version_rows(left: dict, right: dict) -> list[tuple[str, str, str, str, bool]]:
    """(image, framework, left version, right version, major version changed)."""
    return [(image, framework, left[image][framework], right[image][framework],
             major_changed(left[image][framework], right[image][framework]))
            for image in ("training", "inference") for framework in FRAMEWORKS]


def major_changed(a: str, b: str) -> bool:
    return UNKNOWN not in (a, b) and a.split(".")[0] != b.split(".")[0]
