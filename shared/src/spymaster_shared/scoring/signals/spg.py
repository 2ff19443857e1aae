"""``spg``: spatial pressure gradient, the slope of the composite across ticks."""

from __future__ import annotations

import numpy as np

from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import KernelSignal, band_ticks
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "spg_band_ticks": ParamSpec(10, 2, 500, "int", "ticks each side of spot in the regression"),
    "spg_ema_alpha": ParamSpec(0.2, 0.001, 1.0, "float", "EMA weight of the newest bin"),
}


class SpgSignal(KernelSignal):
    name = "spg"
    inputs = ("composite",)
    step = staticmethod(kernels.spg_step)
    run = staticmethod(kernels.spg_run)

    def _kernel_params(self) -> list[float]:
        return [
            band_ticks(self.params["spg_band_ticks"], self.n_cells),
            self.params["spg_ema_alpha"],
        ]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(3), np.zeros((1, 1))


SPEC = register_signal(
    SignalSpec(
        name="spg",
        description="Spatial pressure gradient: -slope of composite over k near spot, EMA",
        params=PARAMS,
        factory=lambda params, weights, **geo: SpgSignal(params, **geo),
    )
)
