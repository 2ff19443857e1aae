"""Seed a results store with a few runs through the harness's own writer (results_store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spymaster_shared.results_store import make_run_id, write_results

PIPELINE = {
    "name": "mnq_60m_baseline",
    "capture": {
        "product_type": "future_mbo",
        "symbol": "MNQH6",
        "dt": "2026-02-06",
        "start_time": "09:25",
        "end_time": "10:25",
    },
    "pipeline": {"cell_width_ms": 100},
}


def _meta(run_id: str, signal: str, dataset_id: str, tp: int, sl: int) -> dict[str, Any]:
    scoring = {"zscore_window_bins": 300, "tanh_scale": 3.0}
    return {
        "run_id": run_id,
        "experiment_name": "frontend_test",
        "dataset_id": dataset_id,
        "pipeline_name": "mnq_60m_baseline",
        "serving_name": "ads_pfp_svac_baseline",
        "signal_name": signal,
        "scoring_json": json.dumps(scoring),
        "signal_params_json": json.dumps({"pfp_lag_ms": 500}),
        "signal_weights_json": json.dumps({"ads": 0.4, "pfp": 0.25, "svac": 0.3}),
        "tp_ticks": tp,
        "sl_ticks": sl,
        "cooldown_bins": 20,
        "max_hold_bins": 1200,
        "warmup_bins": 300,
        "tick_size": 0.25,
        "n_bins": 36000,
        "eval_hours": 1.0,
        "serving_spec_json": json.dumps({"name": "ads_pfp_svac_baseline", "scoring": scoring}),
        "pipeline_spec_json": json.dumps(PIPELINE),
    }


def _run(run_id: str, threshold: float, n: int, tp_rate: float, pnl: float) -> dict[str, Any]:
    n_tp = round(n * tp_rate)
    bins = list(range(400, 400 + 50 * n, 50))
    cum = [float(i * pnl) for i in range(1, n + 1)]
    return {
        "run_id": run_id,
        "threshold": threshold,
        "n_signals": n,
        "n_tp": n_tp,
        "n_sl": n - n_tp,
        "n_timeout": 0,
        "tp_rate": tp_rate,
        "sl_rate": 1 - tp_rate if n else float("nan"),
        "timeout_rate": 0.0,
        "mean_pnl_ticks": pnl if n else float("nan"),
        "events_per_hour": float(n),
        "pnl_bins": bins,
        "cum_pnl_ticks": cum,
    }


def seed_results(root: Path) -> list[str]:
    """Write three runs (two signals, two datasets); returns their run ids, best tp_rate first."""
    a = make_run_id("frontend_test", "ds0000000000000a", {"signal": "ads_pfp_svac", "tp": 20})
    b = make_run_id("frontend_test", "ds0000000000000a", {"signal": "derivative", "tp": 18})
    c = make_run_id("frontend_test", "ds0000000000000b", {"signal": "ads_pfp_svac", "tp": 24})
    write_results(
        [
            _meta(a, "ads_pfp_svac", "ds0000000000000a", 20, 8),
            _meta(b, "derivative", "ds0000000000000a", 18, 6),
            _meta(c, "ads_pfp_svac", "ds0000000000000b", 24, 10),
        ],
        [
            _run(a, 0.2, 12, 0.75, 3.5),
            _run(a, 0.4, 6, 0.5, 1.0),
            _run(b, 0.2, 20, 0.55, 0.8),
            _run(c, 0.2, 3, 0.9, 9.0),  # few signals: filtered out by min_signals=5
            _run(c, 0.6, 0, 0.0, 0.0),  # no trades: NaN metrics must serialise as null
        ],
        root=root,
    )
    return [a, b, c]
