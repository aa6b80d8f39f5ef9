"""The SDK's LocalSession on LocalStack: explicit credentials, harness's bucket, code mounted."""

from __future__ import annotations

import os
from pathlib import Path

from harness.host import ownership
from harness.sdk import adapter, quiet_sdk

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test",
               "region_name": "us-east-1"}
ROLE = "arn:aws:iam::000000000000:role/harness-local"


def offline_environment() -> None:
    """Before the SDK is imported: importing it builds a default Session, whose credential
    lookup asks EC2's metadata service (an AWS address); nothing in this mode may."""
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    quiet_sdk()


def local_session(s3_url: str, bucket: str, container_root: Path, serving_port: int,
                  local_code: bool = True):
    """A LocalSession on LocalStack: explicit boto session, own bucket, code mounted (with
    `local_code`; else uploaded to S3 and downloaded by the container, as on SageMaker)."""
    import boto3

    container_root.mkdir(parents=True, exist_ok=True)
    return adapter().local_session(boto3.Session(**CREDENTIALS), s3_url, bucket, container_root,
                                   serving_port, local_code, ownership.container_labels())
