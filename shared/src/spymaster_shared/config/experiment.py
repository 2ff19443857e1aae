"""ExperimentSpec: a serving config as sweep centre + eval (TP/SL) + sweep axes + tracking."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from spymaster_shared.config.loader import load_model
from spymaster_shared.config.serving import ScoringConfig, ServingSpec, load_serving
from spymaster_shared.errors import ConfigError
from spymaster_shared.names import check_name


def _as_tuple(v: Any) -> Any:
    return (v,) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tp_ticks: tuple[int, ...]
    sl_ticks: tuple[int, ...]
    max_hold_bins: int = Field(gt=0)
    warmup_bins: int = Field(default=0, ge=0)
    tick_size: float = Field(gt=0)
    cooldown_bins: tuple[int, ...] = (0,)
    min_signals: int = Field(default=0, ge=0)
    # A bin fires when |signal_score| >= threshold; metrics are reported per threshold.
    thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6)

    _one = field_validator("tp_ticks", "sl_ticks", "cooldown_bins", "thresholds", mode="before")(
        classmethod(lambda cls, v: _as_tuple(v))
    )

    @field_validator("tp_ticks", "sl_ticks")
    @classmethod
    def _positive(cls, v: tuple[int, ...], info: Any) -> tuple[int, ...]:
        if not v or any(x <= 0 for x in v):
            raise ValueError(f"{info.field_name} must be positive integers")
        return v

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(not 0 < x <= 10 for x in v) or len(set(v)) != len(v):
            raise ValueError("thresholds must be distinct numbers in (0, 10]")
        return tuple(sorted(v))

    @field_validator("cooldown_bins")
    @classmethod
    def _cooldown(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(x < 0 for x in v):
            raise ValueError("cooldown_bins must be non-negative integers")
        return v


class SweepConfig(BaseModel):
    """Axes to sweep: each value is a list of candidate values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scoring: dict[str, list[Any]] = Field(default_factory=dict)
    per_signal: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)
    cooldown_bins: list[int] | None = None

    @field_validator("scoring")
    @classmethod
    def _scoring_axes(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if key not in ScoringConfig.model_fields:
                raise ValueError(f"unknown scoring axis {key!r}")
            if not isinstance(values, list) or not values:
                raise ValueError(f"scoring axis {key!r} must be a non-empty list")
        return v


class ParallelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_workers: int = Field(default=2, ge=1, le=1024)
    timeout_seconds: int = Field(default=7200, gt=0)


class TrackingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["mlflow", "none"] = "mlflow"
    experiment_name: str = "vp/default"
    tracking_uri: str | None = None


class ExperimentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    serving: str
    eval: EvalConfig
    sweep: SweepConfig = SweepConfig()
    parallel: ParallelConfig = ParallelConfig()
    tracking: TrackingConfig = TrackingConfig()

    @field_validator("name", "serving")
    @classmethod
    def _names(cls, v: str, info: Any) -> str:
        return check_name(v, info.field_name)

    @model_validator(mode="after")
    def _sweep_scoring_values(self) -> ExperimentSpec:
        # every swept value must be a valid value of its field; cross-field rules
        # (zscore_min_periods <= zscore_window_bins) are checked on whole sweep points by
        # the harness, against the serving's values rather than the defaults
        for key, values in self.sweep.scoring.items():
            for value in values:
                try:
                    ScoringConfig.model_validate({**ScoringConfig().model_dump(), key: value})
                except ValidationError as exc:
                    errs = [e for e in exc.errors() if e["loc"]]
                    if errs:
                        msg = errs[0]["msg"]
                        raise ValueError(
                            f"sweep.scoring.{key}: bad value {value!r}: {msg}"
                        ) from None
        return self

    def resolve_serving(self, file: Path | str | None = None) -> ServingSpec:
        try:
            return load_serving(self.serving)
        except ConfigError as exc:
            raise ConfigError(
                f"dangling reference to serving {self.serving!r} ({exc})",
                file=file or f"experiment {self.name}",
                field="serving",
            ) from None


def load_experiment(name_or_path: str | Path) -> ExperimentSpec:
    spec, path = load_model(ExperimentSpec, "experiments", name_or_path)
    spec.resolve_serving(path)
    return spec
