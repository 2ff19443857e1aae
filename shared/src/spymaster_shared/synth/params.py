"""SynthParams: everything that determines a synthetic session (same params => same bytes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spymaster_shared.names import check_symbol


def _clock(value: Any) -> Any:
    if isinstance(value, str):
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                return dt.datetime.strptime(value, fmt).time()
            except ValueError:
                continue
        raise ValueError(f"{value!r} must be HH:MM or HH:MM:SS (New York time)")
    return value


class SynthParams(BaseModel):
    """A synthetic MNQ-like MBO session. Times are New York clock times on ``date``.

    Rates are per second of session time and are scaled together by a slowly varying
    activity factor; see ``docs/synth.md`` for the model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = "MNQH6"
    date: dt.date = dt.date(2026, 2, 6)
    start: dt.time = dt.time(8, 50)
    end: dt.time = dt.time(10, 30)
    seed: int = Field(default=7, ge=0, lt=2**31)

    dataset: str = "GLBX.MDP3"
    publisher_id: int = Field(default=1, ge=0, lt=2**16)
    instrument_id: int = Field(default=42005347, ge=0, lt=2**32)
    tick_size: float = Field(default=0.25, gt=0)
    # Start price in dollars; None: 21300-21700 from the seed.
    start_price: float | None = Field(default=None, gt=0)
    # Price the latent fair value slowly reverts to (keeps MNQ within ~21000-22000).
    center_price: float = Field(default=21500.0, gt=0)

    add_rate: float = Field(default=700.0, gt=0, description="new resting orders per second")
    cancel_hazard: float = Field(default=1.1, ge=0, description="cancel intensity per live order")
    modify_hazard: float = Field(default=0.12, ge=0, description="modify intensity per order")
    trade_rate: float = Field(default=22.0, ge=0, description="aggressive orders per second")
    sigma_ticks: float = Field(default=2.5, ge=0, description="fair-value ticks per sqrt(s)")
    revert_per_s: float = Field(default=1.0 / 3600.0, ge=0)
    near_mean_ticks: float = Field(default=4.0, ge=0)
    far_span_ticks: float = Field(default=60.0, ge=1)
    far_fraction: float = Field(default=0.45, ge=0, le=1)
    inside_prob: float = Field(default=0.35, ge=0, le=1)
    sweep_prob: float = Field(default=0.04, ge=0, le=1)
    activity_vol: float = Field(default=0.05, ge=0)
    initial_orders_per_side: int = Field(default=300, ge=1, le=20_000)

    vacuum_per_min: float = Field(default=1.0, ge=0, description="liquidity-withdrawal episodes")
    pressure_per_min: float = Field(default=1.0, ge=0, description="stacking episodes")
    orphan_rate: float = Field(default=0.0, ge=0, le=0.1, description="orphan cancels per event")
    mid_session_snapshot: bool = False

    second_contract: bool = False
    second_symbol: str = "MNQM6"
    second_instrument_id: int = Field(default=42140878, ge=0, lt=2**32)
    second_activity: float = Field(default=0.15, gt=0, le=1)
    second_premium_points: float = 250.0

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clocks(cls, v: Any) -> Any:
        return _clock(v)

    @field_validator("symbol", "second_symbol")
    @classmethod
    def _symbols(cls, v: str) -> str:
        return check_symbol(v)

    @model_validator(mode="after")
    def _window(self) -> SynthParams:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.second_contract and (
            self.second_symbol == self.symbol or self.second_instrument_id == self.instrument_id
        ):
            raise ValueError("the second contract needs its own symbol and instrument_id")
        return self
