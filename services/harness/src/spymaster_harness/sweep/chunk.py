"""The work of sweep tasks, free of Ray: z-scores, blend, run signals, evaluate, persist.

The robust z-scores of the grid depend only on the scoring window (``zscore_part``, once
per window); a chunk is one scoring point (its blend of those z-scores, ``flow_score``) ×
several signal points × every (tp, sl) pair × cooldown × threshold. Signals run once per
(scoring, signal point), sharing the series of components that are the same for several
points; the TP/SL kernel then evaluates all of the chunk's series in one call. Results are
built as columns and written as one atomic part file keyed by the chunk's run ids, so a
retried chunk replaces its own file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from spymaster_harness.eval import Market, TpslResult, evaluate
from spymaster_harness.sweep.plan import RunPoint, SignalPoint, SweepPlan
from spymaster_shared.config import ScoringConfig
from spymaster_shared.results_store import (
    METRIC_KEYS,
    arrow_array,
    arrow_list_array,
    write_result_tables,
)
from spymaster_shared.scoring.scorer import DERIVATIVE_COLUMNS
from spymaster_shared.scoring.signals import Signal

# Test hook: when set to a path, the first chunk to finish writing creates that file and
# kills its own worker process (simulates a worker lost mid-sweep).
FAULT_ENV = "SPYMASTER_HARNESS_KILL_ONCE_MARKER"

SUMMARY_KEYS = (
    "n_signals",
    "tp_rate",
    "sl_rate",
    "timeout_rate",
    "mean_pnl_ticks",
    "events_per_hour",
)


def zscore_part(
    cells: dict[str, np.ndarray], scoring: ScoringConfig, start: int, stop: int
) -> np.ndarray:
    """Robust z-scores (n_bins, stop - start, 3) of cells ``start:stop`` for the window of
    ``scoring``. Cells are independent in the scorer, so parts equal the slices of the whole
    to the bit."""
    from spymaster_shared.scoring import robust_zscores

    part = {name: cells[name][:, start:stop] for name in DERIVATIVE_COLUMNS}
    return robust_zscores(part, scoring)


def blend_flow_score(z_parts: list[np.ndarray], scoring: ScoringConfig) -> np.ndarray:
    """flow_score[n_bins, n_cells] of one scoring point from its window's z-score parts (in
    cell order): ``score_dataset`` to the bit."""
    from spymaster_shared.scoring import blend_zscores

    if len(z_parts) == 1:
        return blend_zscores(z_parts[0], scoring)[0]
    n_cells = sum(z.shape[1] for z in z_parts)
    out = np.empty((z_parts[0].shape[0], n_cells), dtype=np.float64)
    start = 0
    for z in z_parts:
        out[:, start : start + z.shape[1]] = blend_zscores(z, scoring)[0]
        start += z.shape[1]
    return out


def input_columns(plan: SweepPlan) -> list[str] | None:
    """The cell columns the sweep's tasks read: the scorer's derivatives and every signal
    point's inputs; None when a signal cannot tell (then they need every column)."""
    names = dict.fromkeys(DERIVATIVE_COLUMNS)
    for point in plan.signal_points:
        columns = _create_signal(plan, point).input_columns()
        if columns is None:
            return None
        names.update(dict.fromkeys(columns))
    return list(names)


def _create_signal(plan: SweepPlan, point: SignalPoint) -> Signal:
    from spymaster_harness.signals_ml import register_ml_signals

    register_ml_signals()
    from spymaster_shared.scoring.signals import get_signal

    return get_signal(point.name).create(
        point.params, point.weights, cell_width_ms=plan.cell_width_ms, n_cells=plan.n_cells
    )


def signal_scores(
    plan: SweepPlan,
    signal_indices: list[int],
    cells: dict[str, np.ndarray],
    bins: dict[str, np.ndarray],
    flow_score: np.ndarray,
) -> np.ndarray:
    """signal_score[len(signal_indices), n_bins]: each signal point run once (batch form),
    a component series shared by several points (same class, params and input) computed
    once (``Signal.batch_memo``)."""
    n_bins = flow_score.shape[0]
    out = np.full((len(signal_indices), n_bins), np.nan)
    memo: dict[Any, np.ndarray] = {}
    for row, g in enumerate(signal_indices):
        signal = _create_signal(plan, plan.signal_points[g])
        out[row] = np.asarray(signal.batch_memo(cells, flow_score, bins, memo), dtype=np.float64)
    return out


def evaluate_plan(plan: SweepPlan, scores: np.ndarray, market: Market) -> Any:
    """The TP/SL kernel over ``scores`` [n_signal_points, n_bins] with every threshold,
    cooldown and (tp, sl) pair of the plan, in one call."""
    ev = plan.experiment.eval
    return evaluate(
        scores,
        market,
        thresholds=list(plan.thresholds),
        cooldowns=list(plan.cooldowns),
        tp_ticks=[tp for tp, _ in plan.pairs],
        sl_ticks=[sl for _, sl in plan.pairs],
        warmup_bins=ev.warmup_bins,
        max_hold_bins=ev.max_hold_bins,
        tick_size=ev.tick_size,
    )


def evaluate_chunk(
    plan: SweepPlan,
    data: dict[str, dict[str, np.ndarray]],
    flow_score: np.ndarray,
    scoring_index: int,
    signal_indices: list[int],
    results_root: str | None,
) -> list[dict[str, Any]]:
    """Score signals, evaluate every combo in one kernel call, write one part; summary rows."""
    bins, cells = data["bins"], data["cells"]
    scores = signal_scores(plan, signal_indices, cells, bins, flow_score)
    market = Market.from_bins(bins)
    res = evaluate_plan(plan, scores, market)
    meta, runs, summary = result_tables(plan, res, market, scoring_index, signal_indices)
    write_result_tables(meta, runs, root=Path(results_root) if results_root else None)
    _maybe_die_once()
    return summary


def result_tables(
    plan: SweepPlan,
    res: TpslResult,
    market: Market,
    scoring_index: int,
    signal_indices: list[int],
) -> tuple[pa.Table, pa.Table, list[dict[str, Any]]]:
    """(runs_meta, runs, summary rows) of a chunk, built column by column.

    Runs are ordered (signal point, pair, cooldown), rows (run, threshold); the kernel's
    arrays are indexed [signal point, threshold, cooldown, pair], hence the transposes.
    """
    ev = plan.experiment.eval
    n_sig, n_pairs, n_cd, n_thr = (
        len(signal_indices),
        len(plan.pairs),
        len(plan.cooldowns),
        len(plan.thresholds),
    )
    per_signal = n_pairs * n_cd  # runs per signal point
    n_runs = n_sig * per_signal
    run_ids = [
        plan.run_id(RunPoint(scoring_index, g, p, d))
        for g in signal_indices
        for p in range(n_pairs)
        for d in range(n_cd)
    ]
    points = [plan.signal_points[g] for g in signal_indices]
    # The ServingSpec of a run depends on its scoring and signal point only.
    serving_json = [
        json.dumps(plan.serving_for(RunPoint(scoring_index, g, 0, 0)).model_dump(mode="json"))
        for g in signal_indices
    ]
    tp = np.array([tp for tp, _ in plan.pairs], dtype=np.int64)
    sl = np.array([sl for _, sl in plan.pairs], dtype=np.int64)
    cooldowns = np.array(plan.cooldowns, dtype=np.int64)

    def per_point(values: list[str]) -> pa.Array:
        return arrow_array([v for v in values for _ in range(per_signal)], pa.string())

    def const_str(value: str) -> pa.Array:
        return arrow_array([value] * n_runs, pa.string())

    def const_num(value: float, type: pa.DataType) -> pa.Array:
        return arrow_array(np.full(n_runs, value), type)

    scoring_json = json.dumps(plan.scoring_points[scoring_index].model_dump(mode="json"))
    meta = pa.table(
        {
            "run_id": arrow_array(run_ids, pa.string()),
            "experiment_name": const_str(plan.experiment.name),
            "dataset_id": const_str(plan.dataset_id),
            "pipeline_name": const_str(plan.pipeline.name),
            "serving_name": const_str(plan.serving.name),
            "signal_name": per_point([s.name for s in points]),
            "scoring_json": const_str(scoring_json),
            "signal_params_json": per_point([json.dumps(s.params, sort_keys=True) for s in points]),
            "signal_weights_json": per_point(
                [json.dumps(s.weights, sort_keys=True) for s in points]
            ),
            "tp_ticks": arrow_array(np.tile(np.repeat(tp, n_cd), n_sig), pa.int32()),
            "sl_ticks": arrow_array(np.tile(np.repeat(sl, n_cd), n_sig), pa.int32()),
            "cooldown_bins": arrow_array(np.tile(cooldowns, n_sig * n_pairs), pa.int32()),
            "max_hold_bins": const_num(ev.max_hold_bins, pa.int32()),
            "warmup_bins": const_num(ev.warmup_bins, pa.int32()),
            "tick_size": const_num(ev.tick_size, pa.float64()),
            "n_bins": const_num(market.n_bins, pa.int64()),
            "eval_hours": const_num(res.eval_hours, pa.float64()),
            "serving_spec_json": per_point(serving_json),
            "pipeline_spec_json": const_str(json.dumps(plan.pipeline.model_dump(mode="json"))),
        }
    )

    # [c, h, d, p] -> [c, p, d, h]: one row per (run, threshold) in run order.
    metrics = {
        k: np.ascontiguousarray(v.transpose(0, 3, 2, 1)).reshape(-1)
        for k, v in res.metric_arrays().items()
    }
    row_run_ids = [run_id for run_id in run_ids for _ in range(n_thr)]
    series_lengths, series_bins, series_cum = _pnl_series(res, n_sig, n_thr, n_cd, n_pairs)
    runs = pa.table(
        {
            "run_id": arrow_array(row_run_ids, pa.string()),
            "threshold": arrow_array(np.tile(plan.thresholds, n_runs), pa.float64()),
            **{
                k: arrow_array(metrics[k], pa.int64() if k.startswith("n_") else pa.float64())
                for k in METRIC_KEYS
            },
            "pnl_bins": arrow_list_array(series_lengths, series_bins, pa.int64()),
            "cum_pnl_ticks": arrow_list_array(series_lengths, series_cum, pa.float64()),
        }
    )

    columns = {
        "run_id": row_run_ids,
        "scoring_index": [scoring_index] * len(row_run_ids),
        "signal_index": [g for g in signal_indices for _ in range(per_signal * n_thr)],
        "signal_name": [s.name for s in points for _ in range(per_signal * n_thr)],
        "tp_ticks": [tp for tp, _ in plan.pairs for _ in range(n_cd * n_thr)] * n_sig,
        "sl_ticks": [sl for _, sl in plan.pairs for _ in range(n_cd * n_thr)] * n_sig,
        "cooldown_bins": [c for c in plan.cooldowns for _ in range(n_thr)] * (n_sig * n_pairs),
        "threshold": list(plan.thresholds) * n_runs,
        **{k: metrics[k].tolist() for k in SUMMARY_KEYS},
    }
    names = list(columns)
    summary = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return meta, runs, summary


def _pnl_series(
    res: TpslResult, n_sig: int, n_thr: int, n_cd: int, n_pairs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(length per row, concatenated pnl_bins, concatenated cum_pnl_ticks) in row order
    (signal point, pair, cooldown, threshold); each (signal point, threshold, cooldown)
    computed once for all pairs."""
    series = {
        (c, h, d): res.pnl_series_all_pairs(c, h, d)
        for c in range(n_sig)
        for h in range(n_thr)
        for d in range(n_cd)
    }
    order = [
        (c, h, d, p)
        for c in range(n_sig)
        for p in range(n_pairs)
        for d in range(n_cd)
        for h in range(n_thr)
    ]
    lengths = np.array([len(series[c, h, d][0]) for c, h, d, _ in order], dtype=np.int64)
    bins = np.concatenate([np.empty(0, np.int64)] + [series[c, h, d][0] for c, h, d, _ in order])
    cum = np.concatenate(
        [np.empty(0, np.float64)] + [series[c, h, d][1][:, p] for c, h, d, p in order]
    )
    return lengths, bins, cum


def warm_up(plan: SweepPlan, n_bins: int = 64) -> None:
    """Load what a fresh worker's first tasks would: the task modules, and the numba kernels
    of the scorer, of the plan's first signal point and of the TP/SL evaluation (run on a
    tiny random grid with read-only inputs, as the object store maps them, so the same
    kernel specialisations load). A few seconds per fresh process otherwise spent in its
    first tasks."""
    rng = np.random.default_rng(0)
    columns = input_columns(plan)
    shape = (n_bins, plan.n_cells)
    cells = {c: _read_only(rng.standard_normal(shape)) for c in columns or DERIVATIVE_COLUMNS}
    tick = 250_000_000
    bid = (80_000 + np.cumsum(rng.integers(-1, 2, n_bins))) * tick
    start_ns = np.arange(n_bins, dtype=np.int64) * 100_000_000
    bins = {
        "best_bid_price_int": bid,
        "best_ask_price_int": bid + tick,
        "book_valid": np.ones(n_bins, dtype=bool),
        "mid_price": (bid + tick / 2) / 1e9,
        "bin_start_ns": start_ns,
        "bin_end_ns": start_ns + 100_000_000,
    }
    bins = {k: _read_only(v) for k, v in bins.items()}
    scoring = plan.scoring_points[0]
    z = _read_only(zscore_part(cells, scoring, 0, plan.n_cells))
    flow_score = blend_flow_score([z], scoring)
    scores = np.tanh(rng.standard_normal((1, n_bins)))
    if columns is not None:  # else the signal may need columns this grid does not have
        scores = signal_scores(plan, [0], cells, bins, flow_score)
    ev = plan.experiment.eval
    evaluate(
        scores,
        Market.from_bins(bins),
        thresholds=list(plan.thresholds),
        cooldowns=list(plan.cooldowns),
        tp_ticks=[tp for tp, _ in plan.pairs],
        sl_ticks=[sl for _, sl in plan.pairs],
        warmup_bins=0,
        max_hold_bins=ev.max_hold_bins,
        tick_size=ev.tick_size,
    )


def _read_only(x: np.ndarray) -> np.ndarray:
    x.flags.writeable = False
    return x


def _maybe_die_once() -> None:
    marker = os.environ.get(FAULT_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(1)  # the worker dies after writing; Ray retries the task
