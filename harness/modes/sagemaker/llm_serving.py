"""Serving a text-generation model on the Hugging Face LLM DLC, from the SDK's image tables."""

from __future__ import annotations

import re

from harness.errors import HarnessError
from harness.sdk import adapter

LLM_FAMILY = "huggingface-llm"  # TGI, in the image tables of SDK v2 and v3


def llm_table() -> dict:
    return adapter().image_uris().config_for_framework(LLM_FAMILY)["inference"]


def llm_version(configured: str | None) -> str:
    """The TGI version: the configured one (an alias resolved), else the newest in the table."""
    table = llm_table()
    if configured is None:
        return max(table["versions"], key=lambda v: tuple(int(n) for n in re.findall(r"\d+", v)))
    version = table.get("version_aliases", {}).get(configured, configured)
    if version not in table["versions"]:
        raise HarnessError(f"no Hugging Face LLM (TGI) DLC {configured} in the installed SDK's "
                           f"image tables; they have {', '.join(table['versions'])}",
                           "set modes.sagemaker.llm_serving.tgi_version to one of them, or "
                           "leave it out for the newest")
    return version


def llm_image(version: str, *, region: str, instance_type: str) -> str:
    try:
        return adapter().image_uris().retrieve(LLM_FAMILY, region, version=version,
                                               image_scope="inference",
                                               instance_type=instance_type)
    except ValueError as e:
        if "Unsupported processor" in str(e):
            raise HarnessError(f"the Hugging Face LLM (TGI) DLC runs on GPUs only, not on "
                               f"{instance_type}",
                               "set modes.sagemaker.inference_instance_type to a GPU type, "
                               "e.g. ml.g5.xlarge") from None
        raise HarnessError(f"no Hugging Face LLM (TGI) DLC {version} in {region}: {e}",
                           "choose another region or modes.sagemaker.llm_serving.tgi_version"
                           ) from None


def llm_versions(version: str) -> dict[str, str]:
    """torch and Python of the TGI DLC `version` (its tag names them, e.g. 2.7.0-tgi3.3.6)."""
    spec = llm_table()["versions"][version]
    py = spec["py_versions"][0].removeprefix("py")
    return {"transformers": "none", "torch": spec["tag_prefix"].split("-")[0],
            "python": f"{py[0]}.{py[1:]}"}
