"""Projection: Taylor + damping formula, clipping, warmup, incremental == batch."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spymaster_shared.config.serving import ProjectionConfig
from spymaster_shared.scoring import Projector, project_series


def twin(scores: np.ndarray, cfg: ProjectionConfig, cw: int) -> np.ndarray:
    out = np.full((len(scores), len(cfg.horizons_ms)), np.nan)
    for t in range(len(scores)):
        hist = [scores[t - i] if t - i >= 0 else math.nan for i in range(4)]
        s0, s1, s2, s3 = hist
        d1, d2, d3 = s0 - s1, (s0 - 2.0 * s1) + s2, ((s0 - 3.0 * s1) + 3.0 * s2) - s3
        for i, ms in enumerate(cfg.horizons_ms):
            if not math.isfinite(d2) or (cfg.use_cubic and not math.isfinite(d3)):
                continue
            h = ms / cw
            v = s0 + d1 * h + 0.5 * d2 * h * h
            if cfg.use_cubic:
                v = v + cfg.cubic_scale * d3 * h * h * h
            v = v * math.exp(-cfg.damping_lambda * ms / 1000.0)
            out[t, i] = min(1.0, max(-1.0, v))
    return out


def test_formula_on_a_ramp() -> None:
    cfg = ProjectionConfig(horizons_ms=(100, 500), damping_lambda=0.0)
    scores = np.array([0.0, 0.01, 0.02, 0.03])
    out = project_series(scores, cfg, 100)
    assert np.isnan(out[:2]).all()  # s'' needs three scores
    assert np.allclose(out[2], [0.03, 0.07]) and np.allclose(out[3], [0.04, 0.08])


def test_damping_and_clipping() -> None:
    cfg = ProjectionConfig(horizons_ms=(1000, 100_000), damping_lambda=0.5)
    out = project_series(np.array([0.2, 0.2, 0.2]), cfg, 100)
    assert math.isclose(out[2, 0], 0.2 * math.exp(-0.5))
    steep = project_series(np.array([0.0, 0.5, 1.0]), ProjectionConfig(horizons_ms=(2500,)), 100)
    assert steep[2, 0] == 1.0


@settings(max_examples=100, deadline=None)
@given(
    scores=arrays(
        np.float64,
        st.integers(0, 40),
        elements=st.one_of(st.just(np.nan), st.floats(-1, 1, width=64)),
    ),
    use_cubic=st.booleans(),
    lam=st.floats(0, 2),
    cw=st.sampled_from([50, 100, 250]),
)
def test_property_incremental_equals_batch_and_twin(
    scores: np.ndarray, use_cubic: bool, lam: float, cw: int
) -> None:
    cfg = ProjectionConfig(horizons_ms=(250, 500, 1000), use_cubic=use_cubic, damping_lambda=lam)
    batch = project_series(scores, cfg, cw)
    proj = Projector(cfg, cw)
    inc = np.array([proj.update(s) for s in scores]).reshape(len(scores), 3)
    assert batch.tobytes() == inc.tobytes()
    assert np.array_equal(batch, twin(scores, cfg, cw), equal_nan=True)
    # causal: a projection at t only uses scores up to t
    if len(scores) > 1:
        cut = project_series(scores[: len(scores) // 2], cfg, cw)
        assert cut.tobytes() == batch[: len(scores) // 2].tobytes()
