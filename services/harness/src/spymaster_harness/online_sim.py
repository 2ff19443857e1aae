"""Per-bin latency of the live path (SpectrumScorer.update + signal incremental update)
against a bin budget, replaying a dataset bin by bin as the scorer service would."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from spymaster_shared.config import ScoringConfig, ServingSpec
from spymaster_shared.grid_frames import GridFrames


@dataclass(frozen=True)
class LatencyReport:
    n_bins: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    budget_ms: float
    misses: int

    @property
    def miss_rate(self) -> float:
        return self.misses / self.n_bins if self.n_bins else 0.0


def simulate(
    frames: GridFrames,
    *,
    signal: str,
    params: dict | None = None,
    weights: dict | None = None,
    scoring: ScoringConfig | None = None,
    cell_width_ms: int,
    budget_ms: float,
    max_bins: int | None = None,
) -> LatencyReport:
    """Time each bin's scorer update + signal update (perf_counter_ns), in bin order."""
    from spymaster_harness.signals_ml import register_ml_signals
    from spymaster_shared.grid_schema import BIN_NAMES, CELL_NAMES
    from spymaster_shared.scoring import SpectrumScorer
    from spymaster_shared.scoring.signals import get_signal

    register_ml_signals()
    n_bins = frames.n_bins if max_bins is None else min(frames.n_bins, max_bins)
    scorer = SpectrumScorer(scoring or ScoringConfig(), frames.n_rows)
    sig = get_signal(signal).create(
        params, weights, cell_width_ms=cell_width_ms, n_cells=frames.n_rows
    )
    inc = sig.incremental()
    lat = np.empty(n_bins, dtype=np.float64)
    for i in range(n_bins):
        cells = {n: frames.cells[n][i] for n in CELL_NAMES}
        header = {n: frames.bins[n][i] for n in BIN_NAMES}
        t0 = time.perf_counter_ns()
        score, _ = scorer.update(
            cells["composite_d1"], cells["composite_d2"], cells["composite_d3"]
        )
        inc.update(cells, score, header)
        lat[i] = (time.perf_counter_ns() - t0) / 1e6
    return LatencyReport(
        n_bins=n_bins,
        p50_ms=float(np.percentile(lat, 50)) if n_bins else 0.0,
        p99_ms=float(np.percentile(lat, 99)) if n_bins else 0.0,
        max_ms=float(lat.max()) if n_bins else 0.0,
        mean_ms=float(lat.mean()) if n_bins else 0.0,
        budget_ms=budget_ms,
        misses=int((lat > budget_ms).sum()),
    )


def default_serving_for(signal: str) -> ServingSpec | None:
    """The first serving config using ``signal`` (for its params), if any."""
    from spymaster_shared.config import load_serving
    from spymaster_shared.paths import config_root

    for path in sorted((config_root() / "serving").glob("*.yaml")):
        try:
            spec = load_serving(path)
        except Exception:
            continue
        if spec.signal.name == signal:
            return spec
    return None
