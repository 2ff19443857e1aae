"""ML signals: registered, walk-forward without look-ahead, batch == incremental."""

from __future__ import annotations

import numpy as np
import pytest

from spymaster_harness.signals_ml import register_ml_signals
from spymaster_shared.grid_schema import BIN_NAMES, CELL_NAMES
from spymaster_shared.scoring.signals import get_signal, list_signals
from tests.harness.harness_synth import synthetic_frames

ML = ("gbm_mf", "knn_cl", "lsvm_der", "pca_ad", "svm_sp", "xgb_snap")
FAST = {
    "first_fit_ms": 20_000,
    "refit_every_ms": 20_000,
    "train_window_ms": 60_000,
    "horizon_ms": 2_000,
    "stride_bins": 2,
    "min_train_samples": 30,
}


def _make(name: str, n_cells: int):
    extra = {"n_estimators": 10} if name in ("gbm_mf", "xgb_snap") else {}
    return get_signal(name).create({**FAST, **extra}, {}, cell_width_ms=100, n_cells=n_cells)


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(5, 900, radius=10)


def test_registered() -> None:
    register_ml_signals()
    assert set(ML) <= set(list_signals())


@pytest.mark.parametrize("name", ML)
def test_batch_equals_incremental_and_no_look_ahead(name: str, frames) -> None:
    register_ml_signals()
    flow = np.tanh(frames.cells["composite_d1"])
    sig = _make(name, frames.n_rows)
    batch = sig.batch(frames.cells, flow, frames.bins)
    assert np.isnan(batch[:200]).all()  # no model before first_fit
    assert np.isfinite(batch[200:]).mean() > 0.9
    assert np.nanmax(np.abs(batch)) <= 1.0
    inc = sig.incremental()
    vals = [
        inc.update(
            {n: frames.cells[n][t] for n in CELL_NAMES},
            flow[t],
            {n: frames.bins[n][t] for n in BIN_NAMES},
        )
        for t in range(frames.n_bins)
    ]
    np.testing.assert_array_equal(np.asarray(vals), batch)
    # the future (features, flow scores, mids) after bin `cut` never changes scores up to it
    cut = 600
    cells2 = {k: v.copy() for k, v in frames.cells.items()}
    bins2 = {k: v.copy() for k, v in frames.bins.items()}
    for v in cells2.values():
        if v.dtype.kind == "f":
            v[cut + 1 :] = np.random.default_rng(1).standard_normal(v[cut + 1 :].shape) * 9
    bins2["mid_price"][cut + 1 :] *= 1.5
    flow2 = flow.copy()
    flow2[cut + 1 :] = -flow2[cut + 1 :]
    other = _make(name, frames.n_rows).batch(cells2, flow2, bins2)
    np.testing.assert_array_equal(other[: cut + 1], batch[: cut + 1])
