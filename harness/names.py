"""SageMaker's and S3's naming rules, and the names harness gives SageMaker resources.

SageMaker names (training jobs, models, endpoints, endpoint configs) are letters, digits and
hyphens, start and end with a letter or digit, and have at most 63 characters. harness derives
them from the config's `name` (which must match the same pattern) plus a suffix: a 24-character
timestamp for jobs, `-endpoint` and `-endpoint-model`. Where the name leaves too little room for
a suffix, it is shortened deterministically: its start, then a hash of the whole name, so two
long names never share their resources and the same config always gives the same names.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
MAX_SAGEMAKER_NAME = 63
MAX_TUNING_JOB_NAME = 32  # SageMaker's limit for tuning jobs
JOB_SUFFIX_LENGTH = len("-2024-01-31-23-59-59-999")
ENDPOINT_SUFFIX = "-endpoint"
MODEL_SUFFIX = "-endpoint-model"
HASH_LENGTH = 6
# The IAM role ARN pattern of SageMaker's API (RoleArn).
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")


def fit(base: str, suffix_length: int, limit: int = MAX_SAGEMAKER_NAME) -> str:
    """`base`, shortened if needed so that a suffix of `suffix_length` still fits in `limit`."""
    room = limit - suffix_length
    if len(base) <= room:
        return base
    digest = hashlib.sha256(base.encode()).hexdigest()[:HASH_LENGTH]
    return f"{base[:room - HASH_LENGTH - 1].rstrip('-')}-{digest}"


def job_name(base: str) -> str:
    """`base-YYYY-MM-DD-HH-MM-SS-mmm`, the SDK's naming, within SageMaker's 63 characters."""
    now = time.time()
    stamp = f"{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(now))}-{int(now * 1000) % 1000:03d}"
    return f"{fit(base, JOB_SUFFIX_LENGTH)}-{stamp}"


def tuning_job_name(base: str) -> str:
    """`base-YYMMDD-HHMMSS`, within a tuning job's 32 characters (the SDK's short names)."""
    stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime())
    return f"{fit(base, len(stamp) + 1, MAX_TUNING_JOB_NAME)}-{stamp}"


def endpoint_name(base: str) -> str:
    """The endpoint's name; its endpoint config has the same name."""
    return fit(base, len(ENDPOINT_SUFFIX)) + ENDPOINT_SUFFIX


def model_name(base: str) -> str:
    """The name of the SageMaker model behind the endpoint."""
    return fit(base, len(MODEL_SUFFIX)) + MODEL_SUFFIX


def env_strategy(strategy: str) -> str:
    """`SAGEMAKER_BATCH_STRATEGY`'s spelling of a batch strategy: MultiRecord -> MULTI_RECORD."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", strategy).upper()


def shortened(base: str) -> str | None:
    """A note saying which names `base` is shortened in, or None when none is."""
    kinds = [kind for kind, suffix in (("training jobs", JOB_SUFFIX_LENGTH),
                                       ("endpoints", len(ENDPOINT_SUFFIX)),
                                       ("models", len(MODEL_SUFFIX)))
             if fit(base, suffix) != base]
    if not kinds:
        return None
    return (f"name {base!r} has {len(base)} characters, too many for SageMaker's 63 with "
            f"harness's suffixes; it is shortened in the names of {', '.join(kinds)}: "
            f"{fit(base, JOB_SUFFIX_LENGTH)}-<timestamp>, {endpoint_name(base)}, "
            f"{model_name(base)} (set a name of at most "
            f"{MAX_SAGEMAKER_NAME - JOB_SUFFIX_LENGTH} characters to keep it whole)")


def bucket_problem(name: str) -> str | None:
    """What breaks S3's rules for general purpose bucket names, or None."""
    rules = [
        (3 <= len(name) <= 63, "must have 3 to 63 characters"),
        (re.fullmatch(r"[a-z0-9.-]+", name), "may hold only lowercase letters, digits, '.' "
                                             "and '-'"),
        (re.fullmatch(r"[a-z0-9].*[a-z0-9]|[a-z0-9]", name),
         "must begin and end with a letter or digit"),
        (".." not in name, "must not hold two adjacent periods"),
        (not _is_ip_address(name), "must not look like an IP address"),
    ]
    rules += [(not name.startswith(prefix), f"must not start with {prefix!r}")
              for prefix in ("xn--", "sthree-", "amzn-s3-demo-")]
    rules += [(not name.endswith(suffix), f"must not end with {suffix!r}")
              for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")]
    return next((f"bucket name {name!r} {problem} (S3's bucket naming rules)"
                 for ok, problem in rules if not ok), None)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
        return True
    except ValueError:
        return False
