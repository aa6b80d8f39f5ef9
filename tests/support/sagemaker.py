"""`sagemaker` mode's requests, checked with botocore's Stubber against the service model."""

from __future__ import annotations

import json
import re

import boto3
from botocore.stub import Stubber

from harness.config import load_config
from harness.modes.sagemaker.mode import SageMakerMode
from harness.run_dir import RunDir
from harness.sdk import recording_session
from tests.support.runs import REPO

ARN = "arn:aws:sagemaker:us-east-1:111122223333:x"  # any ARN the stubbed SageMaker returns
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
GUIDE = REPO / "configs" / "imdb-distilbert.yaml"


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
