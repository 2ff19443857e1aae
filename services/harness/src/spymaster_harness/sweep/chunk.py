"""The work of one sweep chunk, free of Ray: score, run signals, evaluate, persist.

A chunk is one scoring point × several signal points × every (tp, sl) pair × cooldown ×
threshold. Signals run once per (scoring, signal point); the TP/SL kernel then evaluates all
of the chunk's series in one call. Results are written as one atomic part file keyed by the
chunk's run ids, so a retried chunk replaces its own file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spymaster_harness.eval import Market, evaluate
from spymaster_harness.sweep.plan import RunPoint, SweepPlan
from spymaster_shared.config import ScoringConfig
from spymaster_shared.results_store import write_results

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


def score_cells(cells: dict[str, np.ndarray], scoring: ScoringConfig) -> np.ndarray:
    """flow_score[n_bins, n_cells] of one scoring point (the shared scorer, batch path)."""
    from spymaster_shared.scoring import score_dataset

    flow_score, _ = score_dataset(cells, scoring)
    return np.ascontiguousarray(flow_score, dtype=np.float64)


def signal_scores(
    plan: SweepPlan,
    signal_indices: list[int],
    cells: dict[str, np.ndarray],
    bins: dict[str, np.ndarray],
    flow_score: np.ndarray,
) -> np.ndarray:
    """signal_score[len(signal_indices), n_bins]: each signal point run once (batch form)."""
    from spymaster_harness.signals_ml import register_ml_signals

    register_ml_signals()
    from spymaster_shared.scoring.signals import get_signal

    n_bins = flow_score.shape[0]
    out = np.full((len(signal_indices), n_bins), np.nan)
    for row, g in enumerate(signal_indices):
        point = plan.signal_points[g]
        signal = get_signal(point.name).create(
            point.params, point.weights, cell_width_ms=plan.cell_width_ms, n_cells=plan.n_cells
        )
        out[row] = np.asarray(signal.batch(cells, flow_score, bins), dtype=np.float64)
    return out


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
    ev = plan.experiment.eval
    market = Market.from_bins(bins)
    res = evaluate(
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
    pipeline_json = json.dumps(plan.pipeline.model_dump(mode="json"))
    scoring_json = json.dumps(plan.scoring_points[scoring_index].model_dump(mode="json"))
    meta_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for c, g in enumerate(signal_indices):
        sig = plan.signal_points[g]
        for p, (tp, sl) in enumerate(plan.pairs):
            for d, cooldown in enumerate(plan.cooldowns):
                point = RunPoint(scoring_index, g, p, d)
                run_id = plan.run_id(point)
                meta_rows.append(
                    {
                        "run_id": run_id,
                        "experiment_name": plan.experiment.name,
                        "dataset_id": plan.dataset_id,
                        "pipeline_name": plan.pipeline.name,
                        "serving_name": plan.serving.name,
                        "signal_name": sig.name,
                        "scoring_json": scoring_json,
                        "signal_params_json": json.dumps(sig.params, sort_keys=True),
                        "signal_weights_json": json.dumps(sig.weights, sort_keys=True),
                        "tp_ticks": tp,
                        "sl_ticks": sl,
                        "cooldown_bins": cooldown,
                        "max_hold_bins": ev.max_hold_bins,
                        "warmup_bins": ev.warmup_bins,
                        "tick_size": ev.tick_size,
                        "n_bins": market.n_bins,
                        "eval_hours": res.eval_hours,
                        "serving_spec_json": json.dumps(
                            plan.serving_for(point).model_dump(mode="json")
                        ),
                        "pipeline_spec_json": pipeline_json,
                    }
                )
                for h, thr in enumerate(plan.thresholds):
                    m = res.metrics(c, h, d, p)
                    series_bins, cum = res.pnl_series(c, h, d, p)
                    run_rows.append(
                        {
                            "run_id": run_id,
                            "threshold": thr,
                            **m,
                            "pnl_bins": series_bins.tolist(),
                            "cum_pnl_ticks": cum.tolist(),
                        }
                    )
                    summary.append(
                        {
                            "run_id": run_id,
                            "scoring_index": scoring_index,
                            "signal_index": g,
                            "signal_name": sig.name,
                            "tp_ticks": tp,
                            "sl_ticks": sl,
                            "cooldown_bins": cooldown,
                            "threshold": thr,
                            **{k: m[k] for k in SUMMARY_KEYS},
                        }
                    )
    root = Path(results_root) if results_root else None
    write_results(meta_rows, run_rows, root=root)
    _maybe_die_once()
    return summary


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
