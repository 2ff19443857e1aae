"""``iirc``: impulse-response cascade of the net liquidity added below vs above spot."""

from __future__ import annotations

import numpy as np

from spymaster_shared.errors import ConfigError
from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import KernelSignal, band_ticks
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "iirc_band_ticks": ParamSpec(10, 1, 500, "int", "ticks each side of spot"),
    "iirc_fast_alpha": ParamSpec(0.3, 0.001, 1.0, "float", "fast EMA weight"),
    "iirc_slow_alpha": ParamSpec(0.03, 0.001, 1.0, "float", "slow EMA weight (< fast)"),
    "iirc_scale": ParamSpec(0.25, 0.001, 10.0, "float", "tanh scale of fast - slow"),
}


class IircSignal(KernelSignal):
    name = "iirc"
    inputs = ("add_mass", "pull_mass")
    step = staticmethod(kernels.iirc_step)
    run = staticmethod(kernels.iirc_run)

    def _kernel_params(self) -> list[float]:
        p = self.params
        return [
            band_ticks(p["iirc_band_ticks"], self.n_cells),
            p["iirc_fast_alpha"],
            p["iirc_slow_alpha"],
            p["iirc_scale"],
        ]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(5), np.zeros((1, 1))


def _factory(params: dict, weights: dict, **geo: int) -> IircSignal:
    if not params["iirc_slow_alpha"] < params["iirc_fast_alpha"]:
        raise ConfigError(
            "iirc_slow_alpha must be < iirc_fast_alpha", field="signal.params.iirc_slow_alpha"
        )
    return IircSignal(params, **geo)


SPEC = register_signal(
    SignalSpec(
        name="iirc",
        description="Impulse-response cascade: fast-minus-slow EMA of below-vs-above net adds",
        params=PARAMS,
        factory=_factory,
    )
)
