"""TP/SL evaluation: the Python face of :mod:`spymaster_harness.eval.tpsl_kernels`.

Arrays in, arrays out; no I/O. One call evaluates every signal-score series of a chunk
against every threshold × cooldown × (tp, sl) pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spymaster_harness.eval.tpsl_kernels import (
    N_SIGNALS,
    N_SL,
    N_TIMEOUT,
    N_TP,
    evaluate_tpsl,
)

PRICE_UNITS_PER_DOLLAR = 1_000_000_000
# Cumulative PnL series stored per (run, threshold) are thinned to at most this many points.
MAX_SERIES_POINTS = 2000


@dataclass(frozen=True)
class Market:
    """What the evaluation needs from ``bins``: BBO (1e-9 $) and which bins are tradable."""

    bid: np.ndarray  # int64 [n_bins]
    ask: np.ndarray  # int64 [n_bins]
    tradable: np.ndarray  # bool [n_bins]: book_valid and mid_price != 0
    bin_ms: float  # bin width in milliseconds

    @property
    def n_bins(self) -> int:
        return int(self.bid.shape[0])

    @staticmethod
    def from_bins(bins: dict[str, np.ndarray]) -> Market:
        bid = np.ascontiguousarray(bins["best_bid_price_int"], dtype=np.int64)
        ask = np.ascontiguousarray(bins["best_ask_price_int"], dtype=np.int64)
        tradable = (
            np.asarray(bins["book_valid"], dtype=bool)
            & (np.asarray(bins["mid_price"], dtype=np.float64) != 0.0)
            & (bid > 0)
            & (ask > 0)
        )
        if len(bid) and "bin_end_ns" in bins and "bin_start_ns" in bins:
            bin_ms = float(bins["bin_end_ns"][0] - bins["bin_start_ns"][0]) / 1e6
        else:
            bin_ms = 100.0
        return Market(bid=bid, ask=ask, tradable=np.ascontiguousarray(tradable), bin_ms=bin_ms)


@dataclass(frozen=True)
class TpslResult:
    thresholds: np.ndarray
    cooldowns: np.ndarray
    tp_ticks: np.ndarray
    sl_ticks: np.ndarray
    eval_hours: float
    counts: np.ndarray  # [c, h, d, p, 4]
    pnl_sum: np.ndarray  # [c, h, d, p]
    entry_bins: np.ndarray  # [c, h, d, n_bins]
    entry_dirs: np.ndarray  # [c, h, d, n_bins]
    n_entries: np.ndarray  # [c, h, d]
    outcome_code: np.ndarray  # [n_bins, 2, p]
    outcome_pnl: np.ndarray  # [n_bins, 2, p]
    outcome_exit: np.ndarray  # [n_bins, 2, p]

    def metrics(self, c: int, h: int, d: int, p: int) -> dict[str, Any]:
        n_sig, n_tp, n_sl, n_to = (int(x) for x in self.counts[c, h, d, p])
        denom = max(n_sig, 1)
        return {
            "n_signals": n_sig,
            "n_tp": n_tp,
            "n_sl": n_sl,
            "n_timeout": n_to,
            "tp_rate": n_tp / denom if n_sig else 0.0,
            "sl_rate": n_sl / denom if n_sig else 0.0,
            "timeout_rate": n_to / denom if n_sig else 0.0,
            "mean_pnl_ticks": float(self.pnl_sum[c, h, d, p]) / denom if n_sig else 0.0,
            "events_per_hour": n_sig / self.eval_hours if self.eval_hours > 0 else 0.0,
        }

    def metric_arrays(self) -> dict[str, np.ndarray]:
        """``metrics`` of every (c, h, d, p) at once: each value an array [c, h, d, p]."""
        n_sig, n_tp, n_sl, n_to = (self.counts[..., i] for i in (N_SIGNALS, N_TP, N_SL, N_TIMEOUT))
        fired = n_sig > 0
        denom = np.maximum(n_sig, 1)
        return {
            "n_signals": n_sig,
            "n_tp": n_tp,
            "n_sl": n_sl,
            "n_timeout": n_to,
            "tp_rate": np.where(fired, n_tp / denom, 0.0),
            "sl_rate": np.where(fired, n_sl / denom, 0.0),
            "timeout_rate": np.where(fired, n_to / denom, 0.0),
            "mean_pnl_ticks": np.where(fired, self.pnl_sum / denom, 0.0),
            "events_per_hour": n_sig / self.eval_hours
            if self.eval_hours > 0
            else np.zeros(n_sig.shape),
        }

    def trades(self, c: int, h: int, d: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entry bin, direction, pnl ticks) of every trade of one evaluation, in entry order."""
        k = int(self.n_entries[c, h, d])
        bins = self.entry_bins[c, h, d, :k]
        dirs = self.entry_dirs[c, h, d, :k]
        di = np.where(dirs > 0, 0, 1)
        return bins.copy(), dirs.copy(), self.outcome_pnl[bins, di, p].copy()

    def pnl_series(self, c: int, h: int, d: int, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative PnL (ticks) after each trade, indexed by entry bin; thinned if long."""
        bins, cum = self.pnl_series_all_pairs(c, h, d)
        return bins, np.ascontiguousarray(cum[:, p])

    def pnl_series_all_pairs(self, c: int, h: int, d: int) -> tuple[np.ndarray, np.ndarray]:
        """``pnl_series`` of every TP/SL pair at once: (entry bins int64 [m], cumulative PnL
        float64 [m, n_pairs]). The entries of (c, h, d) are the same for every pair; only
        their outcomes differ."""
        k = int(self.n_entries[c, h, d])
        bins = self.entry_bins[c, h, d, :k].astype(np.int64)
        di = np.where(self.entry_dirs[c, h, d, :k] > 0, 0, 1)
        cum = np.cumsum(self.outcome_pnl[bins, di, :], axis=0)  # sequential, per column
        if k > MAX_SERIES_POINTS:
            keep = np.unique(np.linspace(0, k - 1, MAX_SERIES_POINTS).astype(np.int64))
            bins, cum = bins[keep], cum[keep]
        return bins, cum


def evaluate(
    scores: np.ndarray,
    market: Market,
    *,
    thresholds: np.ndarray | list[float],
    cooldowns: np.ndarray | list[int],
    tp_ticks: np.ndarray | list[int],
    sl_ticks: np.ndarray | list[int],
    warmup_bins: int,
    max_hold_bins: int,
    tick_size: float,
) -> TpslResult:
    """Evaluate ``scores[n_combos, n_bins]`` against all thresholds × cooldowns × TP/SL pairs.

    ``tp_ticks`` and ``sl_ticks`` are paired element-wise (expand the grid before calling).
    """
    scores = np.ascontiguousarray(np.atleast_2d(scores), dtype=np.float64)
    n_combos, n_bins = scores.shape
    if n_bins != market.n_bins:
        raise ValueError(f"scores have {n_bins} bins, market has {market.n_bins}")
    thr = np.asarray(thresholds, dtype=np.float64)
    cds = np.asarray(cooldowns, dtype=np.int64)
    tp = np.asarray(tp_ticks, dtype=np.float64)
    sl = np.asarray(sl_ticks, dtype=np.float64)
    if tp.shape != sl.shape or tp.ndim != 1 or len(tp) == 0:
        raise ValueError("tp_ticks and sl_ticks must be equal-length, non-empty 1-D arrays")
    n_thr, n_cd, n_pairs = len(thr), len(cds), len(tp)
    counts = np.zeros((n_combos, n_thr, n_cd, n_pairs, 4), dtype=np.int64)
    pnl_sum = np.zeros((n_combos, n_thr, n_cd, n_pairs), dtype=np.float64)
    entry_bins = np.zeros((n_combos, n_thr, n_cd, n_bins), dtype=np.int32)
    entry_dirs = np.zeros((n_combos, n_thr, n_cd, n_bins), dtype=np.int8)
    n_entries = np.zeros((n_combos, n_thr, n_cd), dtype=np.int64)
    outcome_code = np.zeros((n_bins, 2, n_pairs), dtype=np.int8)
    outcome_pnl = np.zeros((n_bins, 2, n_pairs), dtype=np.float64)
    outcome_exit = np.zeros((n_bins, 2, n_pairs), dtype=np.int64)
    evaluate_tpsl(
        scores,
        thr,
        cds,
        tp,
        sl,
        market.bid,
        market.ask,
        market.tradable,
        int(warmup_bins),
        int(max_hold_bins),
        float(tick_size) * PRICE_UNITS_PER_DOLLAR,
        counts,
        pnl_sum,
        entry_bins,
        entry_dirs,
        n_entries,
        outcome_code,
        outcome_pnl,
        outcome_exit,
    )
    eval_hours = max(n_bins - int(warmup_bins), 0) * market.bin_ms / 3_600_000.0
    return TpslResult(
        thresholds=thr,
        cooldowns=cds,
        tp_ticks=tp,
        sl_ticks=sl,
        eval_hours=eval_hours,
        counts=counts,
        pnl_sum=pnl_sum,
        entry_bins=entry_bins,
        entry_dirs=entry_dirs,
        n_entries=n_entries,
        outcome_code=outcome_code,
        outcome_pnl=outcome_pnl,
        outcome_exit=outcome_exit,
    )


__all__ = ["N_SIGNALS", "N_SL", "N_TIMEOUT", "N_TP", "Market", "TpslResult", "evaluate"]
