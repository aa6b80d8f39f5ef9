"""Names of SageMaker resources, made as the SDK makes them."""

from __future__ import annotations

import time


def job_name(base: str) -> str:
    """`base-YYYY-MM-DD-HH-MM-SS-mmm`, the SDK's naming."""
    now = time.time()
    return f"{base}-{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(now))}-{int(now * 1000) % 1000:03d}"
