"""TP/SL evaluation of signal scores (SPEC §7): numba kernels + their Python face."""

from spymaster_harness.eval.tpsl import Market, TpslResult, evaluate

__all__ = ["Market", "TpslResult", "evaluate"]
