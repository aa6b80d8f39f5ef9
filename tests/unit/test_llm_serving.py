"""The LLM DLC a text-generation model is served on in `sagemaker` mode, from the installed SDK's
own image tables: vLLM where they have it (SDK v3), else TGI (SDK v2), with the environment each
image's SageMaker entrypoint reads. Runs under either SDK; the v3 cases under
`/work/venv-v3/bin/python` (CI's SDK v3 check)."""

from __future__ import annotations

import pytest

from harness import sdk
from harness.errors import HarnessError
from harness.modes.sagemaker import llm_serving
from harness.modes.sagemaker.settings import LlmServing

V3 = pytest.mark.skipif(sdk.major() != 3, reason="vLLM is in SDK v3's image tables only")
V2 = pytest.mark.skipif(sdk.major() != 2, reason="SDK v2's tables (TGI only)")
TGI_3_3_6 = ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
             "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04")
VLLM_0_29 = ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-vllm:"
             "0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0")


def image(instance_type: str = "ml.g5.xlarge", **settings) -> str:
    return llm_serving.image(LlmServing(**settings), region="eu-west-1",
                             instance_type=instance_type)


@V3
def test_v3_serves_on_vllm_by_default():
    assert llm_serving.engine_of(LlmServing()) == "vllm"
    assert image() == VLLM_0_29
    assert image(version="0.29") == VLLM_0_29  # an alias, resolved as the SDK resolves it
    assert "/huggingface-vllm:0.28.0-transformers5.15.0-" in image(version="0.28")


@V3
def test_vllm_environment_is_what_its_sagemaker_entrypoint_reads():
    # The entrypoint turns each SM_VLLM_<NAME> into `vllm serve --<name>`.
    assert llm_serving.environment(LlmServing(max_total_tokens=4096), "ml.g5.12xlarge") == {
        "SM_VLLM_MODEL": "/opt/ml/model", "SM_VLLM_TENSOR_PARALLEL_SIZE": "4",
        "SM_VLLM_MAX_MODEL_LEN": "4096"}
    assert llm_serving.versions(LlmServing()) == {"transformers": "5.15.0", "torch": "unknown",
                                                  "python": "3.12"}


@V3
def test_v3_still_serves_on_tgi_when_asked():
    assert image(engine="tgi") == TGI_3_3_6
    assert llm_serving.environment(LlmServing(engine="tgi"), "ml.g5.xlarge")["SM_NUM_GPUS"] == "1"


@V2
def test_v2_serves_on_tgi_and_refuses_vllm_with_the_fix():
    assert llm_serving.engine_of(LlmServing()) == "tgi"
    assert image() == TGI_3_3_6
    with pytest.raises(HarnessError) as error:
        image(engine="vllm")
    assert "no Hugging Face vLLM DLC (`huggingface-vllm`)" in error.value.message
    assert "sagemaker>=3" in error.value.hint and "engine to tgi" in error.value.hint


def test_tgi_environment_and_versions():
    llm = LlmServing(engine="tgi", max_input_tokens=256, max_total_tokens=512)
    assert llm_serving.environment(llm, "ml.g5.48xlarge") == {
        "HF_MODEL_ID": "/opt/ml/model", "SM_NUM_GPUS": "8", "MAX_INPUT_TOKENS": "256",
        "MAX_TOTAL_TOKENS": "512"}
    assert llm_serving.versions(llm) == {"transformers": "none", "torch": "2.7.0",
                                         "python": "3.11"}


def test_gpu_count_configured_or_the_instance_types():
    assert llm_serving.gpus(LlmServing(num_gpus=2), "ml.g5.48xlarge") == 2
    assert llm_serving.gpus(LlmServing(), "ml.p4d.24xlarge") == 8
    with pytest.raises(HarnessError) as error:
        llm_serving.gpus(LlmServing(), "ml.x9.huge")
    assert "how many GPUs ml.x9.huge has" in error.value.message
    assert "llm_serving.num_gpus" in error.value.hint


@pytest.mark.parametrize("engine", ["tgi", pytest.param("vllm", marks=V3)])
def test_a_cpu_instance_or_unknown_version_is_refused_with_the_fix(engine):
    with pytest.raises(HarnessError) as error:
        image("ml.m5.xlarge", engine=engine)
    assert "runs on GPUs only, not on ml.m5.xlarge" in error.value.message
    with pytest.raises(HarnessError) as error:
        image(engine=engine, version="9.9")
    assert "9.9 in the installed SDK's image tables" in error.value.message
    assert "llm_serving.version" in error.value.hint

