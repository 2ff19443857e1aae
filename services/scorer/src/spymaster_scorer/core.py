"""Pure core of the scorer: one bin's cells in, its scores out (no I/O, no asyncio).

The same shared code the harness uses: ``SpectrumScorer`` (flow_score, flow_state_code),
the ServingSpec's signal (incremental form) and the ``Projector``. See ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spymaster_shared.config.serving import ServingSpec
from spymaster_shared.scoring import Projector, SpectrumScorer
from spymaster_shared.scoring.signals import make_signal


@dataclass(frozen=True)
class BinScore:
    flow_score: np.ndarray  # f8 (n_cells,)
    flow_state_code: np.ndarray  # i1 (n_cells,)
    signal_score: float | None  # None when not finite
    projection: list[float | None]  # one value per horizon; None when not finite
    score_ready: bool


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class BinScorer:
    """Scores consecutive bins of one session with one ServingSpec, in order."""

    def __init__(self, serving: ServingSpec, *, cell_width_ms: int, n_cells: int) -> None:
        self.serving = serving
        self.spectrum = SpectrumScorer(serving.scoring, n_cells)
        self.signal = make_signal(serving, cell_width_ms=cell_width_ms, n_cells=n_cells)
        self.incremental = self.signal.incremental()
        self.projector = Projector(serving.projection, cell_width_ms)
        self.horizons_ms = list(serving.projection.horizons_ms)
        self.n_bins = 0

    def update(self, cells: Mapping[str, np.ndarray], bin: Mapping[str, Any]) -> BinScore:
        score, state = self.spectrum.update(
            cells["composite_d1"], cells["composite_d2"], cells["composite_d3"]
        )
        signal = float(self.incremental.update(cells, score, bin))
        projection = self.projector.update(signal)
        self.n_bins += 1
        ready = self.spectrum.n_seen >= self.serving.scoring.zscore_min_periods and math.isfinite(
            signal
        )
        return BinScore(
            flow_score=score,
            flow_state_code=state,
            signal_score=_finite(signal),
            projection=[_finite(v) for v in np.asarray(projection, dtype=float)],
            score_ready=ready,
        )
