"""``ads_pfp_svac``: weighted blend of the ads, pfp and svac signals.

Weights come from ``signal.weights`` (keys ads/pfp/svac); the sweep params
``composite_weight_ads|pfp|svac``, when set, override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spymaster_shared.errors import ConfigError
from spymaster_shared.scoring.signals import ads, kernels, pfp, svac
from spymaster_shared.scoring.signals.base import IncrementalSignal, Signal
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

COMPONENTS = ("ads", "pfp", "svac")
DEFAULT_WEIGHTS = {"ads": 0.40, "pfp": 0.25, "svac": 0.30}

PARAMS: dict[str, ParamSpec] = {
    **ads.PARAMS,
    **pfp.PARAMS,
    **svac.PARAMS,
    **{
        f"composite_weight_{c}": ParamSpec(
            None, -10.0, 10.0, "float", f"overrides weights.{c} when set"
        )
        for c in COMPONENTS
    },
}


class AdsPfpSvacSignal(Signal):
    name = "ads_pfp_svac"

    def __init__(
        self, params: dict[str, Any], weights: dict[str, float], *, cell_width_ms: int, n_cells: int
    ):
        self.params = params
        geo = {"cell_width_ms": cell_width_ms, "n_cells": n_cells}
        self._parts = (
            ads.AdsSignal({k: params[k] for k in ads.PARAMS}, **geo),
            pfp.PfpSignal({k: params[k] for k in pfp.PARAMS}, **geo),
            svac.SvacSignal({k: params[k] for k in svac.PARAMS}, **geo),
        )
        w = {c: weights[c] for c in COMPONENTS}
        for c in COMPONENTS:
            if params[f"composite_weight_{c}"] is not None:
                w[c] = params[f"composite_weight_{c}"]
        norm = sum(abs(v) for v in w.values())
        if not norm > 0:
            raise ConfigError(
                "at least one of the ads/pfp/svac weights must be non-zero", field="signal.weights"
            )
        self.weights = w
        self._w = (w["ads"], w["pfp"], w["svac"], norm)

    def incremental(self) -> IncrementalSignal:
        return _Incremental(self)

    def input_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for part in self._parts for c in part.input_columns()))

    def batch(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        return self.batch_memo(cells, flow_score, bins, {})

    def batch_memo(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
        memo: dict[Any, np.ndarray],
    ) -> np.ndarray:
        # Sweeps over the weights or one component's params share the other components.
        a, p, s = (part.batch_memo(cells, flow_score, bins, memo) for part in self._parts)
        out = np.empty(a.shape[0], dtype=np.float64)
        kernels.weighted_blend_run(a, p, s, *self._w, out)
        return out


class _Incremental(IncrementalSignal):
    def __init__(self, signal: AdsPfpSvacSignal):
        self._w = signal._w
        self._parts = tuple(part.incremental() for part in signal._parts)

    def update(
        self, cells: Mapping[str, np.ndarray], flow_score: np.ndarray, bin: Mapping[str, Any]
    ) -> float:
        a, p, s = (part.update(cells, flow_score, bin) for part in self._parts)
        return float(kernels.weighted_blend(a, p, s, *self._w))


def _factory(params: dict, weights: dict, **geo: int) -> AdsPfpSvacSignal:
    ads.check_ads_params(params)
    svac.check_svac_params(params)
    return AdsPfpSvacSignal(params, weights, **geo)


SPEC = register_signal(
    SignalSpec(
        name="ads_pfp_svac",
        description="Weighted composite of ads, pfp and svac (weights ads/pfp/svac)",
        params=PARAMS,
        factory=_factory,
        weights=DEFAULT_WEIGHTS,
    )
)
