"""`modes.sagemaker-local`: the settings of `sagemaker-local` mode."""

from __future__ import annotations

from harness.config.base import ModeSettings


class SageMakerLocalSettings(ModeSettings):
    """`sagemaker-local`: `instance_count` containers (algo-1..N) on one compose network."""

    instance_type: str = "local"
    inference_instance_type: str = "local"
