"""ML signals trained walk-forward (``gbm_mf``, ``knn_cl``, ``lsvm_der``, ``pca_ad``,
``svm_sp``, ``xgb_snap``), registered into the shared signal registry on first use.

Formulas and features: ``docs/signals.md`` ("ML signals").
"""

from __future__ import annotations

_REGISTERED = False


def register_ml_signals() -> None:
    """Register the ML signals (idempotent). Needs the shared registry to be importable."""
    global _REGISTERED
    if _REGISTERED:
        return
    try:
        from spymaster_harness.signals_ml.specs import ml_signal_specs
        from spymaster_shared.scoring.signals import register_signal
    except ImportError:  # the shared signals package is not there yet
        return
    for spec in ml_signal_specs():
        register_signal(spec, replace=True)
    _REGISTERED = True
