"""The Hugging Face Hub, asked once whether it answers. When it does not, models and datasets
come from the local cache at once, instead of after a minute of retries, and a miss says why:
the reason the hub could not be reached, not a guess that there is no internet."""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

from harness.errors import StepError

OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
PROBE_TIMEOUT_S = 3
T = TypeVar("T")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline_switch() -> str | None:
    """The variable that puts the Hugging Face libraries offline, if one is set."""
    for name in OFFLINE_SWITCHES:
        if os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE"):
            return name
    return None


def unreachable(timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the hub cannot be reached from here (the proxy variables apply), or None."""
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint(), method="HEAD"),
                                    timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except urllib.error.URLError as e:
        if isinstance(e.reason, ssl.SSLError):
            return None  # it answered; the libraries may trust other certificates (a proxy's)
        return str(e.reason)
    except (TimeoutError, OSError) as e:
        return str(e) or f"no answer within {timeout_s:.0f} s"


@contextlib.contextmanager
def cache_only():
    """transformers and datasets load from the local cache only. Their offline switches are
    read from the environment at import, so they are set here on the libraries' settings."""
    import datasets.config
    import huggingface_hub.constants

    saved = huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


def load(what: str, name: str, loader: Callable[[], T]) -> T:
    """`loader()` for `what` (e.g. "model") `name` on the hub, from the cache when the hub does
    not answer; a StepError naming the reason when that fails."""
    switch = offline_switch()
    reason = None if switch else unreachable()
    try:
        if reason is None:
            return loader()
        with cache_only():
            found = loader()
        print(f"harness: {endpoint()} is not reachable ({reason}); using the cached {what} "
              f"{name!r}", file=sys.stderr)
        return found
    except (OSError, ValueError) as e:  # what the libraries raise for "not there"
        if switch:
            raise StepError(f"{what} {name!r} is not in the local Hugging Face cache, and "
                            f"{switch}=1 keeps it from being downloaded",
                            f"unset {switch} to download it, or point the config at a local "
                            "folder") from e
        if reason:
            raise StepError(f"{what} {name!r} is not in the local Hugging Face cache, and "
                            f"{endpoint()} cannot be reached from this machine: {reason}",
                            "check the network and the proxy settings (HTTPS_PROXY, "
                            "HF_ENDPOINT) and retry, or copy it to a local folder and point "
                            "the config at that") from e
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise StepError(f"could not load {what} {name!r} from {endpoint()}: {first_line}",
                        f"check the name on {endpoint()}; a private or gated one needs "
                        "`hf auth login` (or HF_TOKEN) first") from e
