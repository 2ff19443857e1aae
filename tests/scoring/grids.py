"""Shared helpers of the scoring tests: deterministic grids without an RNG dependency."""

from __future__ import annotations

import numpy as np

from spymaster_shared.grid_schema import CELL_NAMES


def lcg_uniform(n: int, seed: int) -> np.ndarray:
    """n floats in [0, 1) from a 31-bit LCG: reproducible on every numpy version."""
    out = np.empty(n)
    x = seed & 0x7FFFFFFF
    for i in range(n):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        out[i] = x / 2147483648.0
    return out


def lcg_grid(n_bins: int, n_cells: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Every cell column, deterministic; composite in [-1, 1], state5 codes in -2..2, some NaNs."""
    cells = {}
    for j, name in enumerate(CELL_NAMES):
        u = lcg_uniform(n_bins * n_cells, seed * 1000 + j).reshape(n_bins, n_cells)
        cells[name] = 2.0 * u - 1.0
    cells["state5_code"] = np.floor(cells["state5_code"] * 2.5 + 2.5).clip(0, 4) - 2.0
    for name in ("add_mass", "pull_mass", "vacuum_variant", "pressure_variant"):
        cells[name] = np.abs(cells[name]) * 10.0
    cells["composite_d1"][3:6, 1] = np.nan  # a gap
    cells["composite_d2"][n_bins // 2, :] = np.nan
    return cells
