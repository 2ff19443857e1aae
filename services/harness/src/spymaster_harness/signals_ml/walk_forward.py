"""Walk-forward machinery shared by the ML signals: no look-ahead by construction.

Per bin ``t`` (in order) the state stores the bin's feature vector and mid price, refits
the model at cutoffs ``t = first_fit + i * refit_every`` and scores bin ``t`` with the
latest model. A refit at cutoff ``t`` trains only on samples ``s`` with
``t - train_window <= s`` and ``s + horizon < t`` (the label's horizon ended strictly
before the cutoff), taking every ``stride``-th bin; label = sign(mid[s + horizon] - mid[s])
(flat moves and bins with mid 0 are dropped). Scores are NaN until the first model.

``batch`` runs the very same per-bin ``update`` the live (incremental) form runs, so both
are identical to the bit (each row is predicted alone in both paths).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from spymaster_shared.scoring.signals import (
    IncrementalSignal,
    ParamSpec,
    Signal,
    SignalSpec,
    band_ticks,
    ms_to_bins,
)

WALK_FORWARD_PARAMS: dict[str, ParamSpec] = {
    "horizon_ms": ParamSpec(5000, 100, 3_600_000, "int", "label horizon: sign of the mid move"),
    "refit_every_ms": ParamSpec(300_000, 1000, 86_400_000, "int", "refit period"),
    "train_window_ms": ParamSpec(1_800_000, 10_000, 86_400_000, "int", "training window"),
    "first_fit_ms": ParamSpec(300_000, 1000, 86_400_000, "int", "first fit after this"),
    "stride_bins": ParamSpec(5, 1, 1000, "int", "take every n-th bin as a training sample"),
    "min_train_samples": ParamSpec(100, 10, 1_000_000, "int", "fewer samples: keep old model"),
    "band_ticks": ParamSpec(5, 1, 500, "int", "feature band: ticks each side of spot"),
}

Features = Callable[[Mapping[str, np.ndarray], np.ndarray, int], np.ndarray]


class Model:
    """A fitted model; ``score(x)`` maps one feature row to a value in [-1, 1]."""

    def score(self, x: np.ndarray) -> float:  # pragma: no cover - interface
        raise NotImplementedError


Fit = Callable[[np.ndarray, np.ndarray, dict[str, Any]], Model | None]


class WalkForwardState(IncrementalSignal):
    def __init__(self, signal: WalkForwardSignal):
        self._sig = signal
        self._feats: list[np.ndarray] = []
        self._mids: list[float] = []
        self._model: Model | None = None

    def update(
        self, cells: Mapping[str, np.ndarray], flow_score: np.ndarray, bin: Mapping[str, Any]
    ) -> float:
        sig = self._sig
        t = len(self._feats)
        x = np.asarray(sig.features(cells, np.asarray(flow_score), sig.band), dtype=np.float64)
        self._feats.append(x)
        self._mids.append(float(bin["mid_price"]))
        if t >= sig.first_fit and (t - sig.first_fit) % sig.refit_every == 0:
            self._refit(t)
        if self._model is None or not np.all(np.isfinite(x)):
            return float("nan")
        return float(np.clip(self._model.score(x), -1.0, 1.0))

    def _refit(self, cutoff: int) -> None:
        sig = self._sig
        lo = max(0, cutoff - sig.train_window)
        hi = cutoff - sig.horizon  # samples s < hi have s + horizon < cutoff
        if hi <= lo:
            return
        idx = np.arange(lo, hi, sig.stride)
        mids = np.asarray(self._mids)
        m0, m1 = mids[idx], mids[idx + sig.horizon]
        y = np.sign(m1 - m0)
        X = np.stack([self._feats[i] for i in idx])
        keep = (m0 != 0) & (m1 != 0) & (y != 0) & np.all(np.isfinite(X), axis=1)
        X, y = X[keep], y[keep].astype(np.int64)
        if len(y) < sig.min_train_samples or len(np.unique(y)) < 2:
            return
        model = sig.fit(X, y, sig.params)
        if model is not None:
            self._model = model


class WalkForwardSignal(Signal):
    """A feature function + a fit function, run walk-forward (see module docstring)."""

    def __init__(
        self,
        name: str,
        features: Features,
        fit: Fit,
        params: dict[str, Any],
        *,
        cell_width_ms: int,
        n_cells: int,
    ):
        self.name = name
        self.params = params
        self.features = features
        self.fit = fit
        self.n_cells = n_cells
        self.band = band_ticks(params["band_ticks"], n_cells)
        self.horizon = ms_to_bins(params["horizon_ms"], cell_width_ms)
        self.refit_every = ms_to_bins(params["refit_every_ms"], cell_width_ms)
        self.train_window = ms_to_bins(params["train_window_ms"], cell_width_ms)
        self.first_fit = ms_to_bins(params["first_fit_ms"], cell_width_ms)
        self.stride = int(params["stride_bins"])
        self.min_train_samples = int(params["min_train_samples"])

    def incremental(self) -> IncrementalSignal:
        return WalkForwardState(self)

    def batch(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        state = WalkForwardState(self)
        n_bins = int(np.asarray(flow_score).shape[0])
        out = np.empty(n_bins, dtype=np.float64)
        mids = np.asarray(bins["mid_price"], dtype=np.float64)
        names = list(cells)
        for t in range(n_bins):
            row = {n: cells[n][t] for n in names}
            out[t] = state.update(row, flow_score[t], {"mid_price": mids[t]})
        return out


def ml_spec(
    name: str,
    description: str,
    features: Features,
    fit: Fit,
    extra_params: dict[str, ParamSpec],
) -> SignalSpec:
    params = {**WALK_FORWARD_PARAMS, **extra_params}

    def factory(
        p: dict[str, Any], weights: dict[str, float], *, cell_width_ms: int, n_cells: int
    ) -> Signal:
        return WalkForwardSignal(
            name, features, fit, p, cell_width_ms=cell_width_ms, n_cells=n_cells
        )

    return SignalSpec(name=name, description=description, params=params, factory=factory)
