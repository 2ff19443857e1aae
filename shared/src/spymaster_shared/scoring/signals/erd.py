"""``erd``: entropy regime detector over the state5 codes near spot."""

from __future__ import annotations

import numpy as np

from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import KernelSignal, band_ticks, ms_to_bins
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "erd_window_ms": ParamSpec(2000, 100, 600_000, "int", "history pooled in the histogram"),
    "erd_band_ticks": ParamSpec(10, 1, 500, "int", "ticks each side of spot (k = 0 included)"),
}


class ErdSignal(KernelSignal):
    name = "erd"
    inputs = ("state5_code",)
    step = staticmethod(kernels.erd_step)
    run = staticmethod(kernels.erd_run)

    def _kernel_params(self) -> list[float]:
        self._W = ms_to_bins(self.params["erd_window_ms"], self.cell_width_ms)
        return [band_ticks(self.params["erd_band_ticks"], self.n_cells), self._W]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(6), np.zeros((self._W, 5))


SPEC = register_signal(
    SignalSpec(
        name="erd",
        description="Entropy regime: state5 direction near spot, scaled by (1 - entropy)",
        params=PARAMS,
        factory=lambda params, weights, **geo: ErdSignal(params, **geo),
    )
)
