"""The AWS side of `sagemaker` mode: region, credentials, instance types and the bucket.

Each check runs before the first upload or API call and fails with its fix, where botocore and
the SDK would fail later, with a traceback. Only `ensure_bucket` calls AWS.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from harness.errors import HarnessError, note

REGION_KEY = "modes.sagemaker.region"
CREDENTIALS_HINT = ("run `aws configure` (or `aws configure sso`), or set AWS_PROFILE to a "
                    "profile in ~/.aws/config, or set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)")


@dataclass(frozen=True)
class Region:
    """An AWS region (None: none is set) and where it was found."""

    name: str | None
    source: str
ROLE_HINT = ("set modes.sagemaker.role to the ARN of a role SageMaker can assume, e.g. "
             "arn:aws:iam::<account>:role/SageMakerExecutionRole")


def boto_session(region: str | None = None):
    """A boto3 session with the environment's profile and credentials."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(region_name=region)
    except ProfileNotFound:
        profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        raise HarnessError(f"AWS profile {profile!r} (from AWS_PROFILE) does not exist",
                           "list your profiles with `aws configure list-profiles`, or create "
                           f"this one with `aws configure --profile {profile}`") from None


def region(configured: str | None) -> Region:
    """The config's region, else AWS_REGION, else AWS_DEFAULT_REGION or the profile's (botocore
    reads only those two; AWS's tools let AWS_REGION win over AWS_DEFAULT_REGION)."""
    if configured:
        return Region(configured, REGION_KEY)
    if os.environ.get("AWS_REGION"):
        return Region(os.environ["AWS_REGION"], "AWS_REGION")
    session = boto_session()
    source = ("AWS_DEFAULT_REGION" if os.environ.get("AWS_DEFAULT_REGION")
              else f"AWS profile {session.profile_name!r}")
    return Region(session.region_name, source)


def require_region(configured: str | None) -> str:
    found = region(configured)
    if not found.name:
        raise HarnessError("no AWS region for SageMaker",
                           f"set {REGION_KEY}, AWS_REGION or AWS_DEFAULT_REGION, or give your "
                           "profile one (`aws configure set region us-east-1`)")
    check_region(found)
    return found.name


def check_region(found: Region) -> None:
    known = sagemaker_regions()
    if found.name not in known:
        raise HarnessError(f"unknown AWS region {found.name!r} (from {found.source})",
                           f"use a region SageMaker runs in: {', '.join(known)}")


def sagemaker_regions() -> list[str]:
    """Every region of every AWS partition where SageMaker runs, from botocore's own data."""
    import botocore.session

    session = botocore.session.get_session()
    return sorted({name for partition in session.get_available_partitions()
                   for name in session.get_available_regions("sagemaker", partition)})


def require_credentials(session) -> None:
    """Fail when botocore finds no credentials (environment, profile, SSO, instance role)."""
    if session.get_credentials() is None:
        raise HarnessError("no AWS credentials found", CREDENTIALS_HINT)


INSTANCE_TYPES = {"training": "TrainingInstanceType",
                  "inference": "ProductionVariantInstanceType"}


def check_instance_type(value: str, use: str, key: str) -> None:
    """`value` must be one of SageMaker's instance types for `use` (training or inference),
    as the API's own service model lists them."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    valid = model.shape_for(INSTANCE_TYPES[use]).enum
    if value in valid:
        return
    close = difflib.get_close_matches(value, valid, n=1)
    families = sorted({name.rsplit(".", 1)[0] for name in valid})
    guess = f"; did you mean {close[0]}?" if close else ""
    raise HarnessError(f"unknown {use} instance type {value!r} ({key}){guess}",
                       f"set {key} to a SageMaker {use} instance type: one of the families "
                       f"{', '.join(families)}, with a size, e.g. ml.g5.xlarge")


def ensure_bucket(session, bucket: str, region_name: str) -> None:
    """Make the bucket when it does not exist, as the SDK does with its default bucket."""
    from botocore.exceptions import ClientError

    s3 = session.client("s3", region_name=region_name)
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise HarnessError(f"S3 bucket {bucket!r} exists but these credentials cannot use "
                               "it (bucket names are global: another account may own it)",
                               "set s3.bucket to a bucket of yours") from None
        if status != 404:
            raise HarnessError(f"cannot check S3 bucket {bucket!r}: {e}") from None
    location = ({} if region_name == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": region_name}})
    s3.create_bucket(Bucket=bucket, **location)
    note(f"created S3 bucket {bucket} in {region_name}")
