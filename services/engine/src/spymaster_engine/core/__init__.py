"""The engine's pure core: MBO records in, GridFrames out (book, features, grids).

No I/O and no asyncio here; the NATS shell (``spymaster_engine.service``) and the dataset
generator both drive :class:`FeatureEngine`. Semantics and formulas: ``docs/engine.md``.
"""

from spymaster_engine.core.engine import EngineStateError, EngineStats, FeatureEngine, run_engine

__all__ = ["EngineStateError", "EngineStats", "FeatureEngine", "run_engine"]
