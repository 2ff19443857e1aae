"""Forward projection of the signal score over ``horizons_ms`` (Taylor + damping).

``Projector`` (live, one score per bin) and ``project_series`` (harness) run the same numba
kernel, so they agree to the bit. Units: derivatives are per bin and horizons are converted
to (fractional) bins, h = horizon_ms / cell_width_ms; ``damping_lambda`` is per second.
Formula: ``docs/scoring.md``.
"""

from __future__ import annotations

import math

import numpy as np

from spymaster_shared.config.serving import ProjectionConfig
from spymaster_shared.scoring import projection_kernels as kernels


def _geometry(cfg: ProjectionConfig, cell_width_ms: int) -> tuple[np.ndarray, np.ndarray]:
    if cell_width_ms <= 0:
        raise ValueError(f"cell_width_ms must be positive, got {cell_width_ms}")
    h = np.array([ms / cell_width_ms for ms in cfg.horizons_ms], dtype=np.float64)
    damp = np.array(
        [math.exp(-cfg.damping_lambda * ms / 1000.0) for ms in cfg.horizons_ms], dtype=np.float64
    )
    return h, damp


class Projector:
    """Incremental projection: ``update(score)`` -> float64 (n_horizons,)."""

    def __init__(self, cfg: ProjectionConfig, cell_width_ms: int):
        self.cfg = cfg
        self.horizons_ms = tuple(cfg.horizons_ms)
        self._h, self._damp = _geometry(cfg, cell_width_ms)
        self._hist = np.full(3, np.nan)

    def update(self, score: float) -> np.ndarray:
        out = np.empty(self._h.shape[0], dtype=np.float64)
        kernels.project_step(
            float(score),
            self._hist,
            self._h,
            self._damp,
            self.cfg.use_cubic,
            float(self.cfg.cubic_scale),
            out,
        )
        return out


def project_series(scores: np.ndarray, cfg: ProjectionConfig, cell_width_ms: int) -> np.ndarray:
    """Projection of every bin's score: float64 (n_bins, n_horizons)."""
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (n_bins,), got shape {scores.shape}")
    h, damp = _geometry(cfg, cell_width_ms)
    out = np.empty((scores.shape[0], h.shape[0]), dtype=np.float64)
    kernels.project_run(
        scores, np.full(3, np.nan), h, damp, cfg.use_cubic, float(cfg.cubic_scale), out
    )
    return out
