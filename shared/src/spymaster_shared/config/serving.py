"""ServingSpec (scoring + signal + projection, single point) and PublishedServingSpec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spymaster_shared.config.hashing import stable_short_hash
from spymaster_shared.config.loader import load_model
from spymaster_shared.config.pipeline import PipelineSpec, load_pipeline
from spymaster_shared.errors import ConfigError
from spymaster_shared.names import check_name


class ScoringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zscore_window_bins: int = Field(default=300, ge=2, le=100_000)
    zscore_min_periods: int = Field(default=75, ge=1)
    derivative_weights: tuple[float, float, float] = (0.55, 0.30, 0.15)
    tanh_scale: float = Field(default=3.0, gt=0)
    threshold_neutral: float = Field(default=0.15, ge=0, lt=1)

    @model_validator(mode="after")
    def _periods(self) -> ScoringConfig:
        if self.zscore_min_periods > self.zscore_window_bins:
            raise ValueError("zscore_min_periods must not exceed zscore_window_bins")
        return self


class SignalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "derivative"
    params: dict[str, Any] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, "signal.name")


class ProjectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    horizons_ms: tuple[int, ...] = (250, 500, 1000, 2500)
    use_cubic: bool = False
    cubic_scale: float = 1.0 / 6.0
    damping_lambda: float = Field(default=0.0, ge=0)

    @field_validator("horizons_ms")
    @classmethod
    def _h(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(h <= 0 for h in v):
            raise ValueError("horizons_ms must be a non-empty list of positive integers")
        return v


class ServingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    pipeline: str
    scoring: ScoringConfig = ScoringConfig()
    signal: SignalConfig = SignalConfig()
    projection: ProjectionConfig = ProjectionConfig()

    @field_validator("name", "pipeline")
    @classmethod
    def _names(cls, v: str, info: Any) -> str:
        return check_name(v, info.field_name)

    def resolve_pipeline(self, file: Path | str | None = None) -> PipelineSpec:
        try:
            return load_pipeline(self.pipeline)
        except ConfigError as exc:
            raise ConfigError(
                f"dangling reference to pipeline {self.pipeline!r} ({exc})",
                file=file or f"serving {self.name}",
                field="pipeline",
            ) from None

    def runtime_block(self) -> dict[str, Any]:
        """The serving block of the WebSocket ``runtime_config`` message."""
        return {
            "serving_name": self.name,
            "scoring": self.scoring.model_dump(mode="json"),
            "signal_config": self.signal.model_dump(mode="json"),
            "projection": self.projection.model_dump(mode="json"),
        }


class PublishedServingSpec(BaseModel):
    """Immutable snapshot written by ``harness promote``; ``version`` is its content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    serving: ServingSpec
    pipeline: PipelineSpec
    source_experiment: str | None = None
    source_run_id: str | None = None
    created_at: str | None = None

    @staticmethod
    def content_version(serving: ServingSpec, pipeline: PipelineSpec) -> str:
        return "v" + stable_short_hash(
            {
                "serving": serving.model_dump(mode="json"),
                "pipeline": pipeline.model_dump(mode="json"),
            },
            12,
        )

    @model_validator(mode="after")
    def _version(self) -> PublishedServingSpec:
        expected = self.content_version(self.serving, self.pipeline)
        if self.version != expected:
            raise ValueError(f"version {self.version!r} does not match content hash {expected!r}")
        return self


def load_serving(name_or_path: str | Path) -> ServingSpec:
    spec, path = load_model(ServingSpec, "serving", name_or_path)
    spec.resolve_pipeline(path)  # dangling references fail at load
    return spec
