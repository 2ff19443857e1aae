"""Sweep expansion: ExperimentSpec -> ServingSpec -> PipelineSpec -> the list of runs.

A *run* is one point of scoring × signal params × (tp, sl) × cooldown; its metrics are
reported per threshold. The plan is built (and every reference, axis and range checked)
before any work starts. Scoring and signal axes reuse the dataset; only the pipeline
decides the dataset id.

Per-signal axes (``sweep.per_signal.<signal>.<key>``): a key naming one of the signal's
params sweeps that param (composite signals declare ``composite_weight_<w>`` params that
override their weights); otherwise ``composite_weight_<w>`` / ``weight_<w>`` sweeps
``signal.weights[<w>]``. Every point is resolved by the signal's registry spec (defaults
filled, ranges checked), so run ids hash complete parameters. When ``per_signal`` names
signals, each of them is swept (the serving's own signal starts from the serving's
params/weights, any other from its registered defaults); when it is empty, the serving's
signal is evaluated at its point.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spymaster_shared.config import (
    ExperimentSpec,
    PipelineSpec,
    ScoringConfig,
    ServingSpec,
    SignalConfig,
    load_experiment,
    resolve_engine_config,
)
from spymaster_shared.config.hashing import canonical_json
from spymaster_shared.config.loader import resolve_config_path
from spymaster_shared.errors import ConfigError
from spymaster_shared.results_store import make_run_id

WEIGHT_PREFIXES = ("composite_weight_", "weight_")


@dataclass(frozen=True)
class SignalPoint:
    name: str
    params: dict[str, Any]
    weights: dict[str, float]

    def key(self) -> str:
        return canonical_json({"name": self.name, "params": self.params, "weights": self.weights})


@dataclass(frozen=True)
class RunPoint:
    """Indices of one run in the plan's axes."""

    scoring_index: int
    signal_index: int
    pair_index: int
    cooldown_index: int


@dataclass(frozen=True)
class SweepPlan:
    experiment: ExperimentSpec
    experiment_file: str
    serving: ServingSpec
    pipeline: PipelineSpec
    dataset_id: str
    cell_width_ms: int
    n_cells: int
    scoring_points: tuple[ScoringConfig, ...]
    signal_points: tuple[SignalPoint, ...]
    pairs: tuple[tuple[int, int], ...]  # (tp_ticks, sl_ticks)
    cooldowns: tuple[int, ...]
    thresholds: tuple[float, ...]
    _run_ids: dict[RunPoint, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_runs(self) -> int:
        return (
            len(self.scoring_points)
            * len(self.signal_points)
            * len(self.pairs)
            * len(self.cooldowns)
        )

    def run_params(self, point: RunPoint) -> dict[str, Any]:
        """Every parameter of a run (what its run id hashes)."""
        ev = self.experiment.eval
        sig = self.signal_points[point.signal_index]
        tp, sl = self.pairs[point.pair_index]
        return {
            "scoring": self.scoring_points[point.scoring_index].model_dump(mode="json"),
            "signal": {"name": sig.name, "params": sig.params, "weights": sig.weights},
            "tp_ticks": tp,
            "sl_ticks": sl,
            "cooldown_bins": self.cooldowns[point.cooldown_index],
            "max_hold_bins": ev.max_hold_bins,
            "warmup_bins": ev.warmup_bins,
            "tick_size": ev.tick_size,
            "thresholds": list(self.thresholds),
        }

    def run_id(self, point: RunPoint) -> str:
        if point not in self._run_ids:
            self._run_ids[point] = make_run_id(
                self.experiment.name, self.dataset_id, self.run_params(point)
            )
        return self._run_ids[point]

    def serving_for(self, point: RunPoint) -> ServingSpec:
        """The single-point ServingSpec of a run (what ``promote`` publishes)."""
        sig = self.signal_points[point.signal_index]
        return self.serving.model_copy(
            update={
                "scoring": self.scoring_points[point.scoring_index],
                "signal": SignalConfig(name=sig.name, params=sig.params, weights=sig.weights),
            }
        )

    def zscore_windows(self) -> list[tuple[int, int]]:
        """Distinct (zscore_window_bins, zscore_min_periods) of the scoring points, in order
        of first use: the robust z-scores depend on these two fields only, so a sweep
        computes them once per window and blends them per scoring point."""
        return list(dict.fromkeys(zscore_window(s) for s in self.scoring_points))

    def zscore_window_index(self, scoring_index: int) -> int:
        """Index into ``zscore_windows()`` of a scoring point's window."""
        return self.zscore_windows().index(zscore_window(self.scoring_points[scoring_index]))

    def all_points(self) -> list[RunPoint]:
        return [
            RunPoint(s, g, p, d)
            for s in range(len(self.scoring_points))
            for g in range(len(self.signal_points))
            for p in range(len(self.pairs))
            for d in range(len(self.cooldowns))
        ]


def zscore_window(scoring: ScoringConfig) -> tuple[int, int]:
    """The fields ``robust_zscores`` depends on: (zscore_window_bins, zscore_min_periods)."""
    return int(scoring.zscore_window_bins), int(scoring.zscore_min_periods)


def _signal_spec(name: str, file: str, field_name: str) -> Any:
    from spymaster_harness.signals_ml import register_ml_signals

    register_ml_signals()
    from spymaster_shared.scoring.signals import get_signal, list_signals

    try:
        return get_signal(name)
    except ConfigError:
        raise ConfigError(
            f"unknown signal {name!r} (known: {', '.join(list_signals())})",
            file=file,
            field=field_name,
        ) from None


def _where(exc: ConfigError, file: str, prefix: str) -> ConfigError:
    """Re-raise a registry error with the file and the full field path."""
    field_name = exc.field or ""
    leaf = field_name.split(".")[-1] if field_name else ""
    msg = str(exc)
    if exc.field and msg.startswith(f"{exc.field}: "):
        msg = msg[len(exc.field) + 2 :]
    return ConfigError(msg, file=file, field=f"{prefix}.{leaf}" if leaf else prefix)


def _signal_points(spec: ExperimentSpec, serving: ServingSpec, file: str) -> list[SignalPoint]:
    per_signal = spec.sweep.per_signal or {serving.signal.name: {}}
    serving_file = str(resolve_config_path("serving", serving.name))
    points: dict[str, SignalPoint] = {}
    for name, axes in per_signal.items():
        where = f"sweep.per_signal.{name}"
        sspec = _signal_spec(name, file, where)
        if name == serving.signal.name:
            base_params, base_weights = dict(serving.signal.params), dict(serving.signal.weights)
            try:
                sspec.resolve_params(base_params)
            except ConfigError as exc:
                raise _where(exc, serving_file, "signal.params") from None
            try:
                sspec.resolve_weights(base_weights)
            except ConfigError as exc:
                raise _where(exc, serving_file, "signal.weights") from None
        else:
            base_params, base_weights = {}, {}
        keys: list[tuple[str, str]] = []  # (kind, name)
        for key, values in axes.items():
            field_name = f"{where}.{key}"
            if not isinstance(values, list) or not values:
                raise ConfigError("must be a non-empty list", file=file, field=field_name)
            if key in sspec.params:
                for v in values:
                    try:
                        sspec.params[key].validate(v, field_name)
                    except ConfigError as exc:
                        raise _where(exc, file, where) from None
                keys.append(("param", key))
                continue
            wkey = next((key[len(p) :] for p in WEIGHT_PREFIXES if key.startswith(p)), None)
            if wkey is None or wkey not in sspec.weights:
                raise ConfigError(
                    f"signal {name!r} has no parameter or weight {key!r} (params: "
                    f"{', '.join(sorted(sspec.params))}; "
                    f"weights: {', '.join(sorted(sspec.weights))})",
                    file=file,
                    field=field_name,
                )
            keys.append(("weight", wkey))
        for combo in itertools.product(*(axes[k] for k in axes)):
            params, weights = dict(base_params), dict(base_weights)
            for (kind, key), v in zip(keys, combo, strict=True):
                (params if kind == "param" else weights)[key] = v
            try:
                rparams = sspec.resolve_params(params)
                rweights = sspec.resolve_weights(weights)
            except ConfigError as exc:
                raise _where(exc, file, where) from None
            rparams = {k: list(v) if isinstance(v, tuple) else v for k, v in rparams.items()}
            point = SignalPoint(name, rparams, rweights)
            points.setdefault(point.key(), point)
    return list(points.values())


def _scoring_points(spec: ExperimentSpec, serving: ServingSpec, file: str) -> list[ScoringConfig]:
    axes = spec.sweep.scoring
    out: dict[str, ScoringConfig] = {}
    for combo in itertools.product(*axes.values()):
        data = serving.scoring.model_dump()
        data.update(dict(zip(axes, combo, strict=True)))
        try:
            point = ScoringConfig.model_validate(data)
        except Exception as exc:
            raise ConfigError(
                f"invalid scoring point {data}: {exc}", file=file, field="sweep.scoring"
            ) from None
        out.setdefault(canonical_json(point.model_dump(mode="json")), point)
    return list(out.values())


def build_plan(spec: ExperimentSpec, file: str | Path, dataset_id: str | None = None) -> SweepPlan:
    """Resolve references and expand every axis; raises ConfigError before any work."""
    file = str(file)
    serving = spec.resolve_serving(file)
    pipeline = serving.resolve_pipeline(f"serving {serving.name}")
    engine = resolve_engine_config(pipeline)
    ev = spec.eval
    cooldowns = tuple(spec.sweep.cooldown_bins) if spec.sweep.cooldown_bins else ev.cooldown_bins
    if any((not isinstance(c, int)) or c < 0 for c in cooldowns):
        raise ConfigError(
            "cooldown values must be non-negative integers", file=file, field="sweep.cooldown_bins"
        )
    if ev.warmup_bins >= engine.n_bins:
        raise ConfigError(
            f"warmup_bins {ev.warmup_bins} leaves nothing to evaluate in {engine.n_bins} bins",
            file=file,
            field="eval.warmup_bins",
        )
    return SweepPlan(
        experiment=spec,
        experiment_file=file,
        serving=serving,
        pipeline=pipeline,
        dataset_id=dataset_id or pipeline.dataset_id(),
        cell_width_ms=engine.cell_width_ms,
        n_cells=engine.n_grid_rows,
        scoring_points=tuple(_scoring_points(spec, serving, file)),
        signal_points=tuple(_signal_points(spec, serving, file)),
        pairs=tuple(itertools.product(ev.tp_ticks, ev.sl_ticks)),
        cooldowns=tuple(int(c) for c in cooldowns),
        thresholds=tuple(float(t) for t in ev.thresholds),
    )


def load_plan(experiment: str | Path) -> SweepPlan:
    path = resolve_config_path("experiments", experiment)
    return build_plan(load_experiment(experiment), path)
