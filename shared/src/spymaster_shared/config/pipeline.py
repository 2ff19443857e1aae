"""PipelineSpec: capture window + engine overrides. Changing it changes the dataset id."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spymaster_shared.config.hashing import stable_short_hash
from spymaster_shared.config.loader import load_model
from spymaster_shared.names import check_name, check_product_type, check_symbol

PRODUCT_TYPES = ("future_mbo", "equity_mbo")


def _parse_clock(value: str, field: str) -> dt.time:
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    raise ValueError(f"{field} {value!r} must be HH:MM or HH:MM:SS (New York time)")


class CaptureConfig(BaseModel):
    """What to capture: one instrument, one date, a window in New York clock time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_type: str
    symbol: str
    dt: str
    start_time: str
    end_time: str
    # A path or glob naming the DBN file(s) directly; default: the data-root layout.
    source: str | None = None

    @field_validator("product_type")
    @classmethod
    def _pt(cls, v: str) -> str:
        check_product_type(v)
        if v not in PRODUCT_TYPES:
            raise ValueError(f"product_type must be one of {PRODUCT_TYPES}")
        return v

    @field_validator("symbol")
    @classmethod
    def _sym(cls, v: str) -> str:
        return check_symbol(v)

    @field_validator("dt", mode="before")
    @classmethod
    def _dt(cls, v: Any) -> str:
        if isinstance(v, dt.date):
            v = v.isoformat()
        try:
            dt.date.fromisoformat(str(v))
        except ValueError:
            raise ValueError(f"dt {v!r} must be YYYY-MM-DD") from None
        return str(v)

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _clock(cls, v: Any, info: Any) -> str:
        if isinstance(v, int):  # YAML 1.1 reads 09:25 as sexagesimal 565
            v = f"{v // 60:02d}:{v % 60:02d}"
        _parse_clock(str(v), info.field_name)
        return str(v)

    @model_validator(mode="after")
    def _window(self) -> CaptureConfig:
        if _parse_clock(self.end_time, "end_time") <= _parse_clock(self.start_time, "start_time"):
            raise ValueError("end_time must be after start_time")
        return self

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(self.dt)

    @property
    def start_clock(self) -> dt.time:
        return _parse_clock(self.start_time, "start_time")

    @property
    def end_clock(self) -> dt.time:
        return _parse_clock(self.end_time, "end_time")


class PipelineOverrides(BaseModel):
    """Engine parameters; every field optional, omitted ones take the locked defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cell_width_ms: int | None = Field(default=None, gt=0, le=60_000)
    grid_radius_ticks: int | None = Field(default=None, gt=0, le=1000)
    n_absolute_ticks: int | None = Field(default=None, ge=256, le=1 << 20)
    bucket_size_dollars: float | None = Field(default=None, gt=0)
    warmup_minutes: float | None = Field(default=None, ge=0, le=24 * 60)
    tau_velocity: float | None = Field(default=None, gt=0)
    tau_acceleration: float | None = Field(default=None, gt=0)
    tau_jerk: float | None = Field(default=None, gt=0)
    tau_rest_decay: float | None = Field(default=None, gt=0)
    c1_v_add: float | None = None
    c2_v_rest_pos: float | None = None
    c3_a_add: float | None = None
    c4_v_pull: float | None = None
    c5_v_fill: float | None = None
    c6_v_rest_neg: float | None = None
    c7_a_pull: float | None = None
    spectrum_windows: tuple[int, ...] | None = None
    spectrum_rollup_weights: tuple[float, ...] | None = None
    state5_neutral_band: float | None = Field(default=None, ge=0, lt=1)

    @field_validator("spectrum_windows")
    @classmethod
    def _windows(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None and (not v or any(w < 1 or w > 10_000 for w in v)):
            raise ValueError("spectrum_windows must be a non-empty list of integers in [1, 10000]")
        return v

    @field_validator("spectrum_rollup_weights")
    @classmethod
    def _weights(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and (not v or any(w < 0 for w in v) or sum(v) <= 0):
            raise ValueError("spectrum_rollup_weights must be non-negative with a positive sum")
        return v

    @model_validator(mode="after")
    def _lengths(self) -> PipelineOverrides:
        w, r = self.spectrum_windows, self.spectrum_rollup_weights
        if w is not None and r is not None and len(w) != len(r):
            raise ValueError("spectrum_rollup_weights must have one weight per spectrum window")
        return self


class PipelineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    pipeline_code_version: int = Field(ge=1)
    capture: CaptureConfig
    pipeline: PipelineOverrides = PipelineOverrides()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, "name")

    def with_capture(self, **changes: Any) -> PipelineSpec:
        """A copy with capture fields replaced (e.g. a viewer's symbol/date/start time)."""
        data = self.model_dump()
        data["capture"].update({k: v for k, v in changes.items() if v is not None})
        return PipelineSpec.model_validate(data)

    def dataset_id(self) -> str:
        """Stable short hash of code version + capture + the *resolved* engine parameters."""
        from spymaster_shared.config.runtime import resolve_engine_config

        cfg = resolve_engine_config(self)
        return stable_short_hash(
            {
                "pipeline_code_version": self.pipeline_code_version,
                "capture": self.capture.model_dump(),
                "pipeline": cfg.hashed_params(),
            }
        )


def load_pipeline(name_or_path: str | Path) -> PipelineSpec:
    spec, _ = load_model(PipelineSpec, "pipelines", name_or_path)
    return spec
