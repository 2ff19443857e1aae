"""``svac``: spot vacuum concentration, signed share of vacuum sitting at the touch."""

from __future__ import annotations

import numpy as np

from spymaster_shared.errors import ConfigError
from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import KernelSignal, band_ticks
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "svac_band_ticks": ParamSpec(3, 1, 500, "int", "near-touch ticks each side"),
    "svac_ref_ticks": ParamSpec(15, 1, 500, "int", "reference ticks each side (>= band)"),
    "svac_ema_alpha": ParamSpec(0.1, 0.001, 1.0, "float", "EMA weight of the newest bin"),
}


class SvacSignal(KernelSignal):
    name = "svac"
    inputs = ("vacuum_variant",)
    step = staticmethod(kernels.svac_step)
    run = staticmethod(kernels.svac_run)

    def _kernel_params(self) -> list[float]:
        return [
            band_ticks(self.params["svac_band_ticks"], self.n_cells),
            band_ticks(self.params["svac_ref_ticks"], self.n_cells),
            self.params["svac_ema_alpha"],
        ]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(3), np.zeros((1, 1))


def check_svac_params(params: dict) -> None:
    if params["svac_ref_ticks"] < params["svac_band_ticks"]:
        raise ConfigError(
            "svac_ref_ticks must be >= svac_band_ticks", field="signal.params.svac_ref_ticks"
        )


def _factory(params: dict, weights: dict, **geo: int) -> SvacSignal:
    check_svac_params(params)
    return SvacSignal(params, **geo)


SPEC = register_signal(
    SignalSpec(
        name="svac",
        description="Spot vacuum concentration: ask-minus-bid vacuum at the touch over wide vacuum",
        params=PARAMS,
        factory=_factory,
    )
)
