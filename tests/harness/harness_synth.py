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


def synthetic_frames(seed: int, n_bins: int, radius: int = 50):
    """A GridFrames with every column: random-walk BBO, AR(1) composite derivatives."""
    from spymaster_shared.grid_frames import GridFrames
    from spymaster_shared.grid_schema import BIN_FIELDS, CELL_FIELDS

    rng = np.random.default_rng(seed)
    n_rows = 2 * radius + 1
    market = random_market(rng, n_bins)
    bins = {}
    for name, code in BIN_FIELDS:
        bins[name] = np.asarray(market.get(name, np.zeros(n_bins)), dtype=code)
    bins["spot_ref_price_int"] = (bins["best_bid_price_int"] + bins["best_ask_price_int"]) // 2
    drift = np.cumsum(rng.standard_normal((n_bins, 1)), axis=0) * 0.05
    cells = {}
    for name, code in CELL_FIELDS:
        if name == "k":
            cells[name] = np.tile(np.arange(-radius, radius + 1, dtype=code), (n_bins, 1))
        elif code == "f8":
            noise = rng.standard_normal((n_bins, n_rows))
            cells[name] = (
                np.abs(noise) + drift if "mass" in name or "depth" in name else noise + drift
            )
        else:
            cells[name] = rng.integers(-1, 2, size=(n_bins, n_rows)).astype(code)
    return GridFrames(bins=bins, cells=cells)
