"""``derivative``: the canonical signal, bid-side minus ask-side flow score, EMA-smoothed."""

from __future__ import annotations

import numpy as np

from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import FLOW_SCORE, KernelSignal, band_ticks
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "band_ticks": ParamSpec(10, 1, 500, "int", "ticks each side of spot averaged"),
    "ema_alpha": ParamSpec(0.2, 0.001, 1.0, "float", "EMA weight of the newest bin"),
}


class DerivativeSignal(KernelSignal):
    name = "derivative"
    inputs = (FLOW_SCORE,)
    step = staticmethod(kernels.derivative_step)
    run = staticmethod(kernels.derivative_run)

    def _kernel_params(self) -> list[float]:
        return [band_ticks(self.params["band_ticks"], self.n_cells), self.params["ema_alpha"]]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(3), np.zeros((1, 1))


SPEC = register_signal(
    SignalSpec(
        name="derivative",
        description="Canonical: bid-side minus ask-side mean flow score near spot, EMA-smoothed",
        params=PARAMS,
        factory=lambda params, weights, **geo: DerivativeSignal(params, **geo),
    )
)
