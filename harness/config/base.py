"""What every config section and every mode's settings share: strict, frozen models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModeSettings(Strict):
    instance_type: str
    inference_instance_type: str
    instance_count: int = Field(default=1, gt=0)
    image_uri: str | None = None  # None: the mode's default image
