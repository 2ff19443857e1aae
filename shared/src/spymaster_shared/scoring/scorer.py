"""SpectrumScorer: per-cell flow score and state code from composite_d1/d2/d3.

One implementation for the live scorer service (``update``, one bin at a time) and the harness
(``score_dataset``, all bins): both run the same numba per-bin kernel in bin order, so their
outputs are identical to the bit, warmup included. Formulas: ``docs/scoring.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from spymaster_shared.config.serving import ScoringConfig
from spymaster_shared.errors import ConfigError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.scoring import spectrum_kernels as kernels

FLOW_SCORE = "flow_score"
FLOW_STATE_CODE = "flow_state_code"
DERIVATIVE_COLUMNS = ("composite_d1", "composite_d2", "composite_d3")
# flow_state_code while a cell is warming up or its input is missing (score is NaN then)
STATE_NOT_READY = 0
_spectrum_update = kernels.spectrum_update  # bound once: update() is the live hot path


def _params(scoring: ScoringConfig) -> np.ndarray:
    w1, w2, w3 = (float(w) for w in scoring.derivative_weights)
    norm = abs(w1) + abs(w2) + abs(w3)
    if not norm > 0:
        raise ConfigError(
            "at least one weight must be non-zero", field="scoring.derivative_weights"
        )
    return np.array(
        [w1, w2, w3, norm, float(scoring.tanh_scale), float(scoring.threshold_neutral)],
        dtype=np.float64,
    )


class SpectrumScorer:
    """Ring-buffer robust z-score + tanh blend + threshold, for ``n_cells`` cells at once."""

    def __init__(self, scoring: ScoringConfig, n_cells: int):
        if n_cells < 1:
            raise ValueError(f"n_cells must be >= 1, got {n_cells}")
        self.scoring = scoring
        self.n_cells = int(n_cells)
        W = int(scoring.zscore_window_bins)
        C = self.n_cells
        Wb, P, n_f, n_i = kernels.state_layout(W, C)
        # the whole state in two flat buffers (kernels' module docstring), set through the
        # kernels' own views of them
        self._fstate = np.empty(n_f, dtype=np.float64)
        self._istate = np.zeros(n_i, dtype=np.int64)
        self._istate[1:6] = (W, Wb, P, int(scoring.zscore_min_periods), C)
        ring, srt, piv, params, _, _, _ = kernels.state_views(self._fstate, self._istate)
        ring[...] = np.nan
        srt[...] = np.inf  # sorted windows padded with +inf to whole blocks
        piv[...] = np.inf  # and each block's first value
        params[...] = _params(scoring)

    @property
    def n_seen(self) -> int:
        """Bins processed so far."""
        return int(self._istate[0])

    def update(
        self, d1: np.ndarray, d2: np.ndarray, d3: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score one bin: returns (flow_score float64[n_cells], flow_state_code int8[n_cells])."""
        score = np.empty(self.n_cells)  # float64
        state = np.empty(self.n_cells, np.int8)
        try:
            bad = _spectrum_update(d1, d2, d3, self._fstate, self._istate, score, state)
        except TypeError:  # not 1-D C-contiguous float64 arrays, or mixed read-only ones:
            # convert, make all three read-only views (the kernel's second signature), check
            d1, d2, d3 = (
                _readonly(np.ascontiguousarray(x, dtype=np.float64)) for x in (d1, d2, d3)
            )
            bad = next((k + 1 for k, x in enumerate((d1, d2, d3)) if x.ndim != 1), 0)
            if not bad:
                bad = _spectrum_update(d1, d2, d3, self._fstate, self._istate, score, state)
        if bad:  # the kernel checks lengths before it changes anything
            raise ValueError(
                f"{DERIVATIVE_COLUMNS[bad - 1]} must have shape ({self.n_cells},), "
                f"got {np.shape((d1, d2, d3)[bad - 1])}"
            )
        return score, state

    def run(self, d1: np.ndarray, d2: np.ndarray, d3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score consecutive bins (n_bins, n_cells), continuing from the current state."""
        return blend_zscores(self.zscores(d1, d2, d3), self.scoring)

    def zscores(self, d1: np.ndarray, d2: np.ndarray, d3: np.ndarray) -> np.ndarray:
        """The window part of ``run``: robust z of each derivative, (n_bins, n_cells, 3)
        float64 (NaN = not ready), continuing from the current state. ``blend_zscores``
        turns it into what ``run`` returns, bit for bit."""
        d1, d2, d3 = (
            self._block(x, n) for x, n in zip((d1, d2, d3), DERIVATIVE_COLUMNS, strict=True)
        )
        n_bins = d1.shape[0]
        if d2.shape[0] != n_bins or d3.shape[0] != n_bins:
            raise ValueError("composite_d1/d2/d3 must have the same number of bins")
        z = np.empty((n_bins, self.n_cells, 3), dtype=np.float64)
        kernels.zscore_run(d1, d2, d3, self._fstate, self._istate, z)
        return z

    def _block(self, x: np.ndarray, name: str) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_cells:
            raise ValueError(f"{name} must have shape (n_bins, {self.n_cells}), got {x.shape}")
        return x


def _readonly(x: np.ndarray) -> np.ndarray:
    view = x.view()
    view.flags.writeable = False
    return view


def _derivatives(grid: GridFrames | Mapping[str, np.ndarray], caller: str) -> list[np.ndarray]:
    cells = grid.cells if isinstance(grid, GridFrames) else grid
    missing = [n for n in DERIVATIVE_COLUMNS if n not in cells]
    if missing:
        raise ValueError(f"{caller}: grid lacks column(s) {', '.join(missing)}")
    d = [np.asarray(cells[n]) for n in DERIVATIVE_COLUMNS]
    if d[0].ndim != 2:
        raise ValueError(f"composite_d1 must be 2-D (n_bins, n_cells), got shape {d[0].shape}")
    return d


def score_dataset(
    grid: GridFrames | Mapping[str, np.ndarray], scoring: ScoringConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Score every bin of a grid in order: (flow_score, flow_state_code), each (n_bins, n_cells).

    ``grid`` is a GridFrames or a mapping holding ``composite_d1/d2/d3`` (n_bins, n_cells).
    Same kernel and state evolution as ``SpectrumScorer.update`` called bin by bin.
    """
    d1, d2, d3 = _derivatives(grid, "score_dataset")
    return SpectrumScorer(scoring, d1.shape[1]).run(d1, d2, d3)


def robust_zscores(
    grid: GridFrames | Mapping[str, np.ndarray], scoring: ScoringConfig
) -> np.ndarray:
    """The window part of ``score_dataset``: (n_bins, n_cells, 3) robust z of composite_d1..d3.

    It depends only on ``zscore_window_bins`` and ``zscore_min_periods``, so a sweep over
    weights and ``tanh_scale`` computes it once per window and calls ``blend_zscores`` per
    scoring point: ``blend_zscores(robust_zscores(g, s), s) == score_dataset(g, s)`` bit for bit.
    """
    d1, d2, d3 = _derivatives(grid, "robust_zscores")
    return SpectrumScorer(scoring, d1.shape[1]).zscores(d1, d2, d3)


def blend_zscores(z: np.ndarray, scoring: ScoringConfig) -> tuple[np.ndarray, np.ndarray]:
    """(flow_score, flow_state_code) from robust z (n_bins, n_cells, 3): the weighted tanh
    blend and the neutral threshold of ``scoring`` (its window fields are not used here)."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    if z.ndim != 3 or z.shape[2] != 3:
        raise ValueError(f"z must have shape (n_bins, n_cells, 3), got {z.shape}")
    score = np.empty(z.shape[:2], dtype=np.float64)
    state = np.empty(z.shape[:2], dtype=np.int8)
    kernels.blend_run(z, _params(scoring), score, state)
    return score, state
