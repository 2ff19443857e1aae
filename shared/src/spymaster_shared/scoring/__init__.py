"""Scoring shared by the live scorer service and the harness: one code path, zero skew.

- ``SpectrumScorer`` / ``score_dataset``: per-cell ``flow_score`` and ``flow_state_code``
  (``robust_zscores`` + ``blend_zscores``: the same in two steps, for sweeps);
- ``signals``: registry of signal plug-ins (``get_signal``, ``register_signal``, ...);
- ``Projector`` / ``project_series``: forward projection of the signal score.

See ``docs/scoring.md`` and ``docs/signals.md``.
"""

from spymaster_shared.scoring.projection import Projector, project_series
from spymaster_shared.scoring.scorer import (
    FLOW_SCORE,
    FLOW_STATE_CODE,
    STATE_NOT_READY,
    SpectrumScorer,
    blend_zscores,
    robust_zscores,
    score_dataset,
)

__all__ = [
    "FLOW_SCORE",
    "FLOW_STATE_CODE",
    "STATE_NOT_READY",
    "Projector",
    "SpectrumScorer",
    "blend_zscores",
    "project_series",
    "robust_zscores",
    "score_dataset",
]
