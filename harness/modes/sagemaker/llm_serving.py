"""Serving a text-generation model on a Hugging Face LLM DLC, TGI or vLLM, from the installed
SDK's image tables, with the environment that DLC's SageMaker entrypoint reads."""

from __future__ import annotations

import dataclasses
import re

from harness.errors import HarnessError
from harness.modes.base import UNKNOWN
from harness.modes.sagemaker.settings import LlmServing
from harness.sdk import adapter

MODEL_DIR = "/opt/ml/model"  # where SageMaker unpacks model.tar.gz
# GPUs per instance of the GPU types LLMs are served on: TGI shards over them, vLLM's tensor
# parallelism spans them.
INSTANCE_GPUS = {
    "ml.g4dn.xlarge": 1, "ml.g4dn.2xlarge": 1, "ml.g4dn.12xlarge": 4,
    "ml.g5.xlarge": 1, "ml.g5.2xlarge": 1, "ml.g5.4xlarge": 1, "ml.g5.8xlarge": 1,
    "ml.g5.16xlarge": 1, "ml.g5.12xlarge": 4, "ml.g5.24xlarge": 4, "ml.g5.48xlarge": 8,
    "ml.g6.xlarge": 1, "ml.g6.2xlarge": 1, "ml.g6.12xlarge": 4, "ml.g6.48xlarge": 8,
    "ml.g6e.xlarge": 1, "ml.g6e.2xlarge": 1, "ml.g6e.12xlarge": 4, "ml.g6e.48xlarge": 8,
    "ml.p3.2xlarge": 1, "ml.p3.8xlarge": 4, "ml.p3.16xlarge": 8,
    "ml.p4d.24xlarge": 8, "ml.p4de.24xlarge": 8, "ml.p5.48xlarge": 8, "ml.p5e.48xlarge": 8,
}


@dataclasses.dataclass(frozen=True)
class Engine:
    family: str  # the SDK's image table
    title: str  # in messages


ENGINES = {"tgi": Engine("huggingface-llm", "Hugging Face LLM (TGI) DLC"),
           "vllm": Engine("huggingface-vllm", "Hugging Face vLLM DLC")}


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def table(engine: str) -> dict | None:
    """The engine's inference image table in the installed SDK, None where it has none
    (SDK v2 has no vLLM)."""
    try:
        return adapter().image_uris().config_for_framework(ENGINES[engine].family)["inference"]
    except (FileNotFoundError, ValueError, KeyError):
        return None


def engine_of(llm: LlmServing) -> str:
    """The configured engine, else vLLM where the installed SDK's tables have it, else TGI."""
    if llm.engine is None:
        return "vllm" if table("vllm") is not None else "tgi"
    if table(llm.engine) is None:
        raise HarnessError(f"the installed SageMaker SDK's image tables have no "
                           f"{ENGINES[llm.engine].title} (`{ENGINES[llm.engine].family}`); SDK v2 "
                           "knows TGI only",
                           "install SDK v3 (pip install 'sagemaker>=3') for vLLM, or set "
                           "modes.sagemaker.llm_serving.engine to tgi")
    return llm.engine


def version_of(engine: str, configured: str | None) -> str:
    """The engine's DLC version: the configured one (an alias resolved), else the newest."""
    found = table(engine) or {}
    if configured is None:
        return max(found["versions"], key=release)
    version = found.get("version_aliases", {}).get(configured, configured)
    if version not in found["versions"]:
        raise HarnessError(f"no {ENGINES[engine].title} {configured} in the installed SDK's "
                           f"image tables; they have {', '.join(found['versions'])}",
                           "set modes.sagemaker.llm_serving.version to one of them, or leave "
                           "it out for the newest")
    return version


def image(llm: LlmServing, *, region: str, instance_type: str) -> str:
    engine = engine_of(llm)
    version = version_of(engine, llm.version)
    title = ENGINES[engine].title
    try:
        return adapter().image_uris().retrieve(ENGINES[engine].family, region, version=version,
                                               image_scope="inference",
                                               instance_type=instance_type)
    except ValueError as e:
        if "Unsupported processor" in str(e):
            raise HarnessError(f"the {title} runs on GPUs only, not on {instance_type}",
                               "set modes.sagemaker.inference_instance_type to a GPU type, "
                               "e.g. ml.g5.xlarge") from None
        raise HarnessError(f"no {title} {version} in {region}: {e}",
                           "choose another region or modes.sagemaker.llm_serving.version"
                           ) from None


def gpus(llm: LlmServing, instance_type: str) -> int:
    """The GPUs the model is spread over: the configured count, else the instance type's."""
    if llm.num_gpus is not None:
        return llm.num_gpus
    if instance_type not in INSTANCE_GPUS:
        raise HarnessError(f"harness does not know how many GPUs {instance_type} has",
                           "set modes.sagemaker.llm_serving.num_gpus to its GPU count")
    return INSTANCE_GPUS[instance_type]


def environment(llm: LlmServing, instance_type: str) -> dict[str, str]:
    """What the engine's SageMaker entrypoint reads: TGI its own variables; vLLM's turns each
    `SM_VLLM_<NAME>` into the `vllm serve --<name>` argument."""
    count = str(gpus(llm, instance_type))
    if engine_of(llm) == "vllm":
        return {"SM_VLLM_MODEL": MODEL_DIR, "SM_VLLM_TENSOR_PARALLEL_SIZE": count,
                "SM_VLLM_MAX_MODEL_LEN": str(llm.max_total_tokens)}
    return {"HF_MODEL_ID": MODEL_DIR, "SM_NUM_GPUS": count,
            "MAX_INPUT_TOKENS": str(llm.max_input_tokens),
            "MAX_TOTAL_TOKENS": str(llm.max_total_tokens)}


def versions(llm: LlmServing) -> dict[str, str]:
    """torch, transformers and Python of the DLC, as its tag names them (TGI:
    2.7.0-tgi3.3.6; vLLM: 0.29.0-transformers5.15.0, its torch unnamed)."""
    engine = engine_of(llm)
    version = version_of(engine, llm.version)
    spec = (table(engine) or {})["versions"][version]
    py = spec["py_versions"][0].removeprefix("py")
    prefix = spec["tag_prefix"]
    transformers = re.search(r"transformers([\d.]+)", prefix)
    return {"transformers": transformers.group(1) if transformers else "none",
            "torch": UNKNOWN if engine == "vllm" else prefix.split("-")[0],
            "python": f"{py[0]}.{py[1:]}"}
