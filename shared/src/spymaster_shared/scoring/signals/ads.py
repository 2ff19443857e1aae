"""``ads``: asymmetric derivative slope, the trend of the bid-vs-ask flow-score asymmetry."""

from __future__ import annotations

import numpy as np

from spymaster_shared.errors import ConfigError
from spymaster_shared.scoring.signals import kernels
from spymaster_shared.scoring.signals.base import FLOW_SCORE, KernelSignal, band_ticks, ms_to_bins
from spymaster_shared.scoring.signals.registry import ParamSpec, SignalSpec, register_signal

PARAMS = {
    "ads_slope_windows_ms": ParamSpec(
        (1000, 2500, 5000), 200, 600_000, "int_list", "OLS slope windows of the asymmetry"
    ),
    "ads_zscore_window_ms": ParamSpec(
        20_000, 1000, 3_600_000, "int", "window of the slope RMS normaliser"
    ),
    "ads_warmup_ms": ParamSpec(20_000, 0, 3_600_000, "int", "NaN before this much history"),
    "ads_band_ticks": ParamSpec(10, 1, 500, "int", "ticks each side of spot averaged"),
}


class AdsSignal(KernelSignal):
    name = "ads"
    inputs = (FLOW_SCORE,)
    step = staticmethod(kernels.ads_step)
    run = staticmethod(kernels.ads_run)

    def _kernel_params(self) -> list[float]:
        cw = self.cell_width_ms
        windows = [ms_to_bins(w, cw, minimum=2) for w in self.params["ads_slope_windows_ms"]]
        self._L = max(windows)
        self._Z = ms_to_bins(self.params["ads_zscore_window_ms"], cw)
        return [
            band_ticks(self.params["ads_band_ticks"], self.n_cells),
            ms_to_bins(self.params["ads_warmup_ms"], cw, minimum=0),
            self._Z,
            len(windows),
            *windows,
        ]

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        rows = 1 + int(self._p[3])
        return np.zeros(1), np.full((rows, max(self._L, self._Z)), np.nan)


def check_ads_params(params: dict) -> None:
    if len(set(params["ads_slope_windows_ms"])) != len(params["ads_slope_windows_ms"]):
        raise ConfigError(
            "slope windows must be distinct", field="signal.params.ads_slope_windows_ms"
        )


def _factory(params: dict, weights: dict, **geo: int) -> AdsSignal:
    check_ads_params(params)
    return AdsSignal(params, **geo)


SPEC = register_signal(
    SignalSpec(
        name="ads",
        description="Asymmetric derivative slope: multi-window trend of bid-minus-ask flow score",
        params=PARAMS,
        factory=_factory,
    )
)
