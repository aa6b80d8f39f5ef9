"""The wheel carries what harness's commands read from a checkout (the image's build context,
the LocalStack compose file and build, the bundled train.py and sft.py, the default and
sft-tiny configs and their data) and the starter project of `harness init`
(examples/linear-regression) as package data under harness/_bundled/; pyproject.toml holds
everything else."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = ["container", "docker-compose.yml", "train/train.py", "configs/default.yaml",
           "data/sentiment", "train/sft.py", "train/sm_training.py", "configs/sft-tiny.yaml", "data/sft",
           "examples/linear-regression"]
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "*.whl", "*.crt", "*.pem",
                                  ".pytest_cache", "runs")


class BuildWithBundle(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        target = Path(self.build_lib) / "harness" / "_bundled"
        for name in BUNDLED:
            source, dest = HERE / name, target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, dest, ignore=LEFT_OUT, dirs_exist_ok=True)
            else:
                shutil.copy2(source, dest)


setup(cmdclass={"build_py": BuildWithBundle})
