"""Synthetic bins/grids for harness tests."""

from __future__ import annotations

import numpy as np


def random_market(rng: np.random.Generator, n_bins: int, tick_int: int = 250_000_000) -> dict:
    """bins columns of a random-walk BBO with some invalid / mid-0 bins."""
    steps = rng.choice([-1, 0, 0, 1], size=n_bins)
    mid_ticks = 80_000 + np.cumsum(steps)
    spread = rng.choice([1, 1, 2], size=n_bins)
    bid = (mid_ticks * tick_int).astype(np.int64)
    ask = bid + spread * tick_int
    valid = rng.random(n_bins) > 0.05
    mid = (bid + ask) / 2e9
    mid[rng.random(n_bins) < 0.03] = 0.0
    start = np.arange(n_bins, dtype=np.int64) * 100_000_000
    return {
        "bin_seq": np.arange(n_bins, dtype=np.int64),
        "bin_start_ns": start,
        "bin_end_ns": start + 100_000_000,
        "ts_ns": start + 100_000_000,
        "best_bid_price_int": bid,
        "best_ask_price_int": ask,
        "book_valid": valid,
        "mid_price": mid,
    }
