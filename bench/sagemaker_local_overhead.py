"""SDK local-mode overhead: `fit()` wall time minus the time the script itself runs.

    python bench/sagemaker_local_overhead.py [--runs 3] [--script-seconds 5]

Needs Docker, LocalStack (`harness emulator up`) and the image (`harness image build`); the
image is cached, so this measures what each `harness train --mode sagemaker-local` costs on
top of the training script. The entry point only sleeps and records its own start and end,
so the difference is pure harness + SDK + container overhead. Real SageMaker spends about
6 minutes before a script starts and about 3 after it ends (540 s), for comparison.
"""

import argparse
import json
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

from harness.job import open_job
from harness.names import job_name

REAL_SAGEMAKER_OVERHEAD_S = 540
PROBE = """
import json, os, sys, time
started = time.time()
time.sleep(float(sys.argv[sys.argv.index("--seconds") + 1]))
out = os.environ["SM_OUTPUT_DATA_DIR"]
json.dump({"started": started, "ended": time.time()}, open(os.path.join(out, "metrics.json"), "w"))
json.dump([], open(os.path.join(out, "log_history.json"), "w"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--script-seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "code").mkdir()
        (folder / "code" / "probe.py").write_text(PROBE)
        config = yaml.safe_load(Path("configs/default.yaml").read_text())
        config.update(source_dir=str(folder / "code"), entry_point="probe.py",
                      run_dir=str(folder / "run"), s3={"prefix": "bench-overhead"})
        config["dataset"] = {k: str((Path("configs") / v).resolve()) if k.endswith("_file") else v
                             for k, v in config["dataset"].items()}
        (folder / "job.yaml").write_text(yaml.safe_dump(config))
        job = open_job(folder / "job.yaml", [], "sagemaker-local")
        channels = {split: job.storage.save_dataset(_tiny_split(), job.storage.dataset(split))
                    for split in ("train", "test")}
        overheads = []
        for run in range(args.runs):
            started = time.monotonic()
            result = job.mode.train(job_name(job.config.name), channels,
                                    {"seconds": args.script_seconds})
            wall = time.monotonic() - started
            with job.storage.open(result.output_artifact) as out, tarfile.open(fileobj=out) as tar:
                probe = json.load(tar.extractfile("data/metrics.json"))
            script = probe["ended"] - probe["started"]
            overheads.append(wall - script)
            print(f"run {run + 1}: fit {wall:6.2f} s  script {script:6.2f} s  "
                  f"overhead {wall - script:6.2f} s")
    median = statistics.median(overheads)
    print(f"median overhead {median:.2f} s; real SageMaker about {REAL_SAGEMAKER_OVERHEAD_S} s")
    print(f"RATIO sagemaker_local_overhead_vs_real_sagemaker {median / REAL_SAGEMAKER_OVERHEAD_S:.4f}")


def _tiny_split():
    from datasets import ClassLabel, Dataset

    data = Dataset.from_dict({"input_ids": [[101, 102]] * 4, "labels": [0, 1] * 2})
    return data.cast_column("labels", ClassLabel(names=["NEGATIVE", "POSITIVE"]))


if __name__ == "__main__":
    main()
