"""``pfp``: pressure front propagation, how the flow-score front moves toward/away from spot."""

from __future__ import annotations

import numpy as np

from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import FLOW_SCORE, KernelSignal, band_ticks, ms_to_bins
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "pfp_lag_ms": ParamSpec(500, 1, 600_000, "int", "lag over which the front moves"),
    "pfp_ema_alpha": ParamSpec(0.05, 0.001, 1.0, "float", "EMA weight of the newest bin"),
    "pfp_band_ticks": ParamSpec(10, 2, 500, "int", "ticks each side of spot in the front"),
}


class PfpSignal(KernelSignal):
    name = "pfp"
    inputs = (FLOW_SCORE,)
    step = staticmethod(kernels.pfp_step)
    run = staticmethod(kernels.pfp_run)

    def _kernel_params(self) -> list[float]:
        self._L = ms_to_bins(self.params["pfp_lag_ms"], self.cell_width_ms)
        return [
            band_ticks(self.params["pfp_band_ticks"], self.n_cells),
            self._L,
            self.params["pfp_ema_alpha"],
        ]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(3), np.full((2, self._L + 1), np.nan)


SPEC = register_signal(
    SignalSpec(
        name="pfp",
        description="Pressure front propagation: lagged move of each side's pressure front",
        params=PARAMS,
        factory=lambda params, weights, **geo: PfpSignal(params, **geo),
    )
)
