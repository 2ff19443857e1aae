"""Signals as plug-ins: ``get_signal(name).create(params, weights, ...)``; see docs/signals.md.

Importing this package registers the built-in signals (derivative, ads, pfp, svac,
ads_pfp_svac, erd, iirc, jad, msd, spg); the harness adds its own with ``register_signal``.
"""

from spymaster_shared.scoring.signals import (  # noqa: F401  (registration side effect)
    ads,
    ads_pfp_svac,
    derivative,
    erd,
    iirc,
    jad,
    msd,
    pfp,
    spg,
    svac,
)
from spymaster_shared.scoring.signals.base import (
    IncrementalSignal,
    KernelSignal,
    Signal,
    band_ticks,
    ms_to_bins,
)
from spymaster_shared.scoring.signals.registry import (
    ParamSpec,
    SignalSpec,
    get_signal,
    list_signals,
    make_signal,
    register_signal,
    signal_specs,
)

__all__ = [
    "IncrementalSignal",
    "KernelSignal",
    "ParamSpec",
    "Signal",
    "SignalSpec",
    "band_ticks",
    "get_signal",
    "list_signals",
    "make_signal",
    "ms_to_bins",
    "register_signal",
    "signal_specs",
]
