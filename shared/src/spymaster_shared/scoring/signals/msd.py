"""``msd``: multi-scale dispersion of the composite's bid-vs-ask asymmetry."""

from __future__ import annotations

import numpy as np

from spymaster_shared.errors import ConfigError
from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import KernelSignal, band_ticks, ms_to_bins
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "msd_scales_ms": ParamSpec(
        (500, 2000, 8000), 100, 3_600_000, "int_list", "EMA time scales (N = ms / cell width)"
    ),
    "msd_band_ticks": ParamSpec(10, 1, 500, "int", "ticks each side of spot averaged"),
}


class MsdSignal(KernelSignal):
    name = "msd"
    inputs = ("composite",)
    step = staticmethod(kernels.msd_step)
    run = staticmethod(kernels.msd_run)

    def _kernel_params(self) -> list[float]:
        scales = [ms_to_bins(s, self.cell_width_ms) for s in self.params["msd_scales_ms"]]
        return [band_ticks(self.params["msd_band_ticks"], self.n_cells), len(scales), *scales]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(1 + 2 * int(self._p[1])), np.zeros((1, 1))


def _factory(params: dict, weights: dict, **geo: int) -> MsdSignal:
    if len(params["msd_scales_ms"]) < 2:
        raise ConfigError("needs at least 2 scales", field="signal.params.msd_scales_ms")
    return MsdSignal(params, **geo)


SPEC = register_signal(
    SignalSpec(
        name="msd",
        description="Multi-scale dispersion: composite asymmetry EMAs, faded when scales disagree",
        params=PARAMS,
        factory=_factory,
    )
)
