"""`modes.local`: the settings of `local` mode."""

from __future__ import annotations

from pydantic import Field, field_validator

from harness.config.base import ModeSettings


class LocalSettings(ModeSettings):
    """`local`: this machine is the one instance; it scales out with processes."""

    instance_type: str = "local"
    inference_instance_type: str = "local"
    processes: int = Field(default=1, gt=0)  # train.py processes (one per GPU, or per core)

    @field_validator("instance_count")
    @classmethod
    def one_instance(cls, count: int) -> int:
        if count != 1:
            raise ValueError("local mode has one instance, this machine; for several train.py "
                             "processes set modes.local.processes, for several instances use "
                             "modes.sagemaker-local.instance_count")
        return count
