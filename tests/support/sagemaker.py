"""`sagemaker` mode's requests, checked with botocore's Stubber against the service model."""

from __future__ import annotations

import json
import re

import boto3
from botocore.stub import ANY, Stubber

from harness import sdk
from harness.config import load_config
from harness.modes.sagemaker.mode import SageMakerMode
from harness.run_dir import RunDir
from harness.sdk import recording_session
from tests.support.runs import REPO

ARN = "arn:aws:sagemaker:us-east-1:111122223333:x"  # any ARN the stubbed SageMaker returns
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
GUIDE = REPO / "configs" / "imdb-distilbert.yaml"
V2 = sdk.major() == 2
# The newest Hugging Face DLCs in the installed SDK's image tables (the default config's).
TRAINING_DLC = "763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-training:" + (
    "2.8.0-transformers4.56.2-gpu-py312-cu129-ubuntu22.04" if V2
    else "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04")
INFERENCE_DLC = "763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-inference:" + (
    "2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04" if V2
    else "2.6.0-transformers5.5.3-gpu-py312-cu124-ubuntu22.04")
# What v2's estimator and tuner add to the requests and v3's do not (docs/sdk-versions.md): the
# SageMaker Debugger defaults, and the estimator class `HyperparameterTuner.attach` rebuilds.
V2_TRAINING_JOB = {"DebugHookConfig": ANY, "ProfilerConfig": ANY} if V2 else {}
V2_TUNING_HYPERPARAMETERS = {"sagemaker_estimator_class_name": '"HuggingFace"',
                             "sagemaker_estimator_module": '"sagemaker.huggingface.estimator"'
                             } if V2 else {}
# The tuner `harness tune` waits on: v2's, or harness's own under v3 (harness/sdk/v3_jobs.py).
TUNER = "sagemaker.tuner.HyperparameterTuner" if V2 else "harness.sdk.v3_jobs.HyperparameterTuner"


def stubbed_mode(config, region):
    client = boto3.client("sagemaker", region_name=region, aws_access_key_id="x",
                          aws_secret_access_key="x")
    stub = Stubber(client)
    session, _ = recording_session(region, config.s3.bucket, sagemaker_client=client)
    return SageMakerMode(config, RunDir(config.run_path, "sagemaker"), session=session), stub


def guide(tmp_path, *overrides):
    return load_config(GUIDE, [f"modes.sagemaker.role={ROLE}", f"run_dir={tmp_path}/run",
                               f"source_dir={REPO / 'train'}", *overrides])


class Matches:
    """A Stubber expectation for a string matching a regex (the job name is made at run time)."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def __eq__(self, other) -> bool:
        return isinstance(other, str) and re.fullmatch(self.pattern, other) is not None

    def __repr__(self) -> str:
        return f"Matches({self.pattern!r})"


def printed_request(stdout: str, operation: str) -> dict:
    """One request of a dry run's output: its name on a line, then its JSON."""
    lines = stdout.splitlines()
    start = lines.index(operation) + 1
    end = next((i for i in range(start, len(lines)) if lines[i] and lines[i][0] not in " {}"),
               len(lines))
    return json.loads("\n".join(lines[start:end]))
