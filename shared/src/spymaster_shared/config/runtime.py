"""Resolution of a PipelineSpec (+ product defaults + overrides) into a frozen EngineConfig.

Times: capture clock times are New York time (America/New_York, DST aware); bins are
aligned to multiples of ``cell_width_ms`` from the capture start.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from spymaster_shared.config.hashing import stable_short_hash
from spymaster_shared.config.loader import validation_error
from spymaster_shared.config.pipeline import PipelineOverrides, PipelineSpec
from spymaster_shared.config.products import product_for
from spymaster_shared.dbn.records import PRICE_UNITS_PER_DOLLAR

NEW_YORK = ZoneInfo("America/New_York")

# The locked defaults every PipelineSpec override applies to (reference 000/002).
ENGINE_DEFAULTS: dict[str, Any] = {
    "cell_width_ms": 100,
    "grid_radius_ticks": 50,
    "n_absolute_ticks": 8192,
    "warmup_minutes": 30.0,
    "tau_velocity": 2.0,
    "tau_acceleration": 5.0,
    "tau_jerk": 10.0,
    "tau_rest_decay": 30.0,
    "c1_v_add": 1.0,
    "c2_v_rest_pos": 0.5,
    "c3_a_add": 0.3,
    "c4_v_pull": 1.0,
    "c5_v_fill": 1.5,
    "c6_v_rest_neg": 0.5,
    "c7_a_pull": 0.3,
    "spectrum_windows": (5, 10, 20, 40),
    "spectrum_rollup_weights": (1.0, 1.0, 1.0, 1.0),
    "state5_neutral_band": 0.1,
}


def ny_to_utc_ns(date: dt.date, clock: dt.time) -> int:
    """Nanoseconds since the epoch (UTC) of a New York wall-clock time on ``date``."""
    local = dt.datetime.combine(date, clock, tzinfo=NEW_YORK)
    return int(local.timestamp()) * 1_000_000_000 + local.microsecond * 1000


class EngineConfig(BaseModel):
    """Everything the engine needs, fully resolved and frozen. Prices in 1e-9 units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline_name: str
    pipeline_code_version: int
    product_type: str
    symbol: str
    dt: str
    start_time: str
    end_time: str
    source: str | None
    tick_size: float
    multiplier: float
    bucket_size_dollars: float
    bucket_price_int: int  # bucket size in 1e-9 price units
    cell_width_ms: int
    grid_radius_ticks: int
    n_absolute_ticks: int
    warmup_minutes: float
    tau_velocity: float
    tau_acceleration: float
    tau_jerk: float
    tau_rest_decay: float
    c1_v_add: float
    c2_v_rest_pos: float
    c3_a_add: float
    c4_v_pull: float
    c5_v_fill: float
    c6_v_rest_neg: float
    c7_a_pull: float
    spectrum_windows: tuple[int, ...]
    spectrum_rollup_weights: tuple[float, ...]
    state5_neutral_band: float
    capture_start_ns: int
    capture_end_ns: int
    warmup_start_ns: int

    @property
    def cell_width_ns(self) -> int:
        return self.cell_width_ms * 1_000_000

    @property
    def n_grid_rows(self) -> int:
        return 2 * self.grid_radius_ticks + 1

    @property
    def n_bins(self) -> int:
        return -(-(self.capture_end_ns - self.capture_start_ns) // self.cell_width_ns)

    def hashed_params(self) -> dict[str, Any]:
        """The resolved engine parameters that determine the output (for dataset ids)."""
        out: dict[str, Any] = {"bucket_price_int": self.bucket_price_int}
        for key in sorted(ENGINE_DEFAULTS):
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def config_version(self) -> str:
        return stable_short_hash(self.model_dump(mode="json"), 12)


def resolve_engine_config(
    spec: PipelineSpec, overrides: dict[str, Any] | None = None
) -> EngineConfig:
    """Product defaults, then locked engine defaults, then the spec's overrides, then ``overrides``.

    ``overrides`` keys must be PipelineOverrides fields; unknown keys are refused.
    """
    capture = spec.capture
    product = product_for(capture.product_type, capture.symbol)
    params: dict[str, Any] = dict(ENGINE_DEFAULTS)
    params["bucket_size_dollars"] = product.bucket
    params.update(spec.pipeline.model_dump(exclude_none=True))
    if overrides:
        try:
            extra = PipelineOverrides.model_validate(overrides)
        except ValidationError as exc:
            raise validation_error(exc, f"overrides for pipeline {spec.name}") from None
        params.update(extra.model_dump(exclude_none=True))
    if len(params["spectrum_windows"]) != len(params["spectrum_rollup_weights"]):
        from spymaster_shared.errors import ConfigError

        raise ConfigError(
            "spectrum_rollup_weights must have one weight per spectrum window",
            file=f"pipeline {spec.name}",
            field="pipeline.spectrum_rollup_weights",
        )
    bucket_int = round(params["bucket_size_dollars"] * PRICE_UNITS_PER_DOLLAR)
    start_ns = ny_to_utc_ns(capture.date, capture.start_clock)
    end_ns = ny_to_utc_ns(capture.date, capture.end_clock)
    warmup_ns = round(params["warmup_minutes"] * 60 * 1_000_000_000)
    return EngineConfig(
        pipeline_name=spec.name,
        pipeline_code_version=spec.pipeline_code_version,
        product_type=capture.product_type,
        symbol=capture.symbol,
        dt=capture.dt,
        start_time=capture.start_time,
        end_time=capture.end_time,
        source=capture.source,
        tick_size=product.tick_size,
        multiplier=product.multiplier,
        bucket_price_int=bucket_int,
        capture_start_ns=start_ns,
        capture_end_ns=end_ns,
        warmup_start_ns=start_ns - warmup_ns,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()},
    )
