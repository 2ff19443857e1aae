"""``jad``: jerk/acceleration divergence of bid vs ask depth near spot."""

from __future__ import annotations

import numpy as np

from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import KernelSignal, band_ticks, ms_to_bins
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "jad_band_ticks": ParamSpec(5, 1, 500, "int", "ticks each side of spot (k = 0 included)"),
    "jad_window_ms": ParamSpec(10_000, 200, 3_600_000, "int", "RMS normaliser window"),
}


class JadSignal(KernelSignal):
    name = "jad"
    inputs = ("a_bid_depth", "a_ask_depth", "j_bid_depth", "j_ask_depth")
    step = staticmethod(kernels.jad_step)
    run = staticmethod(kernels.jad_run)

    def _kernel_params(self) -> list[float]:
        self._W = ms_to_bins(self.params["jad_window_ms"], self.cell_width_ms)
        return [band_ticks(self.params["jad_band_ticks"], self.n_cells), self._W]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(1), np.full((2, self._W), np.nan)


SPEC = register_signal(
    SignalSpec(
        name="jad",
        description="Jerk/acceleration divergence: bid-minus-ask depth accel and jerk, normalised",
        params=PARAMS,
        factory=lambda params, weights, **geo: JadSignal(params, **geo),
    )
)
