"""`sagemaker` mode for a model that generates text (`modes.sagemaker.llm_serving`): it deploys on
the Hugging Face LLM DLC (TGI) of the SDK's image tables, with the environment TGI's SageMaker
entrypoint reads, on a GPU instance. Requests are checked by botocore's Stubber against the
service model; nothing calls AWS."""

from __future__ import annotations

import pytest
from botocore.stub import ANY

from harness import sdk
from harness.config import load_config
from harness.errors import HarnessError
from harness.job import Job
from tests.support.cli import without_aws
from tests.support.runs import REPO, write_config
from tests.support.sagemaker import ARN, ROLE, printed_request, stubbed_mode

SFT_TINY = REPO / "configs" / "sft-tiny.yaml"
TGI = ("763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:"
       "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04")
TGI_ENV = {"HF_MODEL_ID": "/opt/ml/model", "SM_NUM_GPUS": "1", "MAX_INPUT_TOKENS": "256",
           "MAX_TOTAL_TOKENS": "512"}
CLASSIFIER_DLC = "huggingface-pytorch-inference"
tgi_by_default = pytest.mark.skipif(
    sdk.major() != 2, reason="SDK v3's tables serve on vLLM by default (test_promote_shows_vllm, "
    "tests/unit/test_llm_serving.py)")


def sft_tiny(tmp_path, *overrides):
    return load_config(SFT_TINY, [f"modes.sagemaker.role={ROLE}", f"run_dir={tmp_path}/run",
                                  *overrides])


@tgi_by_default
def test_deploy_requests_name_the_tgi_image_and_its_environment(tmp_path):
    model_data = "s3://my-bucket/sft-tiny/model.tar.gz"
    config = sft_tiny(tmp_path, "modes.sagemaker.region=eu-west-1", f"model_data={model_data}")
    mode, stub = stubbed_mode(config, "eu-west-1")
    name = "sft-tiny-endpoint"
    environment = {**TGI_ENV, "SAGEMAKER_PROGRAM": ANY, "SAGEMAKER_SUBMIT_DIRECTORY": ANY,
                   "SAGEMAKER_CONTAINER_LOG_LEVEL": ANY, "SAGEMAKER_REGION": "eu-west-1"}
    stub.add_response("create_model", {"ModelArn": ARN}, {
        "ModelName": f"{name}-model", "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": TGI.format(region="eu-west-1"), "Environment": environment,
                             "ModelDataUrl": model_data}})
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": ARN}, {
        "EndpointConfigName": name, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": f"{name}-model", "InitialVariantWeight": 1,
            "InitialInstanceCount": 1, "InstanceType": "ml.g5.xlarge"}]})
    stub.add_response("create_endpoint", {"EndpointArn": ARN}, {
        "EndpointName": name, "EndpointConfigName": name, "Tags": ANY})
    with stub:
        mode.plan({}, Job(config, mode).hyperparameters())
    stub.assert_no_pending_responses()


@tgi_by_default
def test_dry_run_prints_the_llm_image_env_and_cost():
    result = without_aws("run", "-c", str(SFT_TINY), "--mode", "sagemaker", "--dry-run")
    assert result.returncode == 0, result.stderr
    container = printed_request(result.stdout, "CreateModel")["PrimaryContainer"]
    assert container["Image"] == TGI.format(region="us-east-1")
    assert TGI_ENV.items() <= container["Environment"].items()
    variant = printed_request(result.stdout, "CreateEndpointConfig")["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.xlarge"
    assert "endpoint: 1 x ml.g5.xlarge at $1.408/h" in without_aws(
        "deploy", "-c", str(SFT_TINY), "--mode", "sagemaker").stdout


@pytest.mark.skipif(sdk.major() != 2, reason="SDK v3 serves on vLLM (test_promote_shows_vllm)")
def test_promote_shows_the_serving_image_and_env_change():
    result = without_aws("promote", "-c", str(SFT_TINY))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    image = lines.index(next(line for line in lines if line.startswith("* inference image")))
    assert "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6" in lines[image + 1]
    assert "HF_MODEL_ID=/opt/ml/model" in result.stdout
    assert "MAX_TOTAL_TOKENS=512" in result.stdout


def test_the_classifier_keeps_the_inference_dlc(tmp_path):
    config = write_config(tmp_path, modes={"sagemaker": {"role": ROLE}})
    result = without_aws("run", "-c", str(config), "--mode", "sagemaker", "--dry-run")
    assert result.returncode == 0, result.stderr
    container = printed_request(result.stdout, "CreateModel")["PrimaryContainer"]
    assert CLASSIFIER_DLC in container["Image"]
    assert "HF_MODEL_ID" not in container["Environment"]


def test_tgi_on_a_cpu_instance_is_refused_with_the_fix(tmp_path):
    config = sft_tiny(tmp_path, "modes.sagemaker.inference_instance_type=ml.m5.xlarge")
    mode, _ = stubbed_mode(config, "us-east-1")
    with pytest.raises(HarnessError) as error:
        mode.inference_image()
    assert "GPUs only, not on ml.m5.xlarge" in error.value.message
    assert "ml.g5.xlarge" in error.value.hint


@pytest.mark.parametrize("override, said", [
    ("modes.sagemaker.llm_serving.max_total_tokens=128", "max_total_tokens must be above"),
    ("modes.sagemaker.llm_serving.version=9.9", "DLC 9.9 in the installed SDK's image tables"),
])
def test_llm_serving_mistakes(tmp_path, override, said):
    with pytest.raises(HarnessError) as error:
        mode, _ = stubbed_mode(sft_tiny(tmp_path, override), "us-east-1")
        mode.inference_image()
    assert said in error.value.message


@pytest.mark.skipif(sdk.major() != 3, reason="vLLM is in SDK v3's image tables only")
def test_promote_shows_vllm_under_sdk_v3():
    result = without_aws("promote", "-c", str(SFT_TINY))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    image = lines.index(next(line for line in lines if line.startswith("* inference image")))
    assert "/huggingface-vllm:0.29.0-transformers5.15.0-" in lines[image + 1]
    assert "SM_VLLM_MODEL=/opt/ml/model SM_VLLM_TENSOR_PARALLEL_SIZE=1" in result.stdout
    torch_row = next(line for line in lines if line.strip().startswith("torch") and
                     "unknown" in line)  # the vLLM DLC's tag does not name its torch
    assert "major version change" not in torch_row
