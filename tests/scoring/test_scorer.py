"""SpectrumScorer: golden vectors, numpy twin, incremental == batch, causality, edge cases."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spymaster_shared.config.serving import ScoringConfig
from spymaster_shared.errors import ConfigError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.scoring import SpectrumScorer, blend_zscores, robust_zscores, score_dataset
from spymaster_shared.scoring.tanh import tanh

GOLDEN = Path(__file__).parent / "golden" / "scorer_v1.json"
MAD_SCALE = 1.4826


# ---------------------------------------------------------------- the slow, obvious twin


def twin_scores(d: list[np.ndarray], cfg: ScoringConfig) -> tuple[np.ndarray, np.ndarray]:
    """Pure numpy: np.median over each window of the last W bins (finite values only); the
    blend's tanh is the scorer's own (``scoring/tanh.py``, tested against libm apart)."""
    W, mp = cfg.zscore_window_bins, cfg.zscore_min_periods
    w = cfg.derivative_weights
    norm = abs(w[0]) + abs(w[1]) + abs(w[2])
    n_bins, n_cells = d[0].shape
    score = np.full((n_bins, n_cells), np.nan)
    state = np.zeros((n_bins, n_cells), dtype=np.int8)
    for t in range(n_bins):
        for c in range(n_cells):
            zs = []
            for x in d:
                win = x[max(0, t - W + 1) : t + 1, c]
                win = win[np.isfinite(win)] + 0.0
                cur = x[t, c]
                if not math.isfinite(cur) or len(win) < mp:
                    zs.append(math.nan)
                    continue
                med = np.median(win)
                mad = np.median(np.abs(win - med))
                zs.append(0.0 if mad == 0 else (cur - med) / (MAD_SCALE * mad))
            if any(math.isnan(z) for z in zs):
                continue
            s = cfg.tanh_scale
            v = (w[0] * tanh(zs[0] / s) + w[1] * tanh(zs[1] / s) + w[2] * tanh(zs[2] / s)) / norm
            score[t, c] = v
            state[t, c] = (
                1 if v > cfg.threshold_neutral else (-1 if v < -cfg.threshold_neutral else 0)
            )
    return score, state


def incremental(d: list[np.ndarray], cfg: ScoringConfig) -> tuple[np.ndarray, np.ndarray]:
    scorer = SpectrumScorer(cfg, d[0].shape[1])
    rows = [scorer.update(d[0][t], d[1][t], d[2][t]) for t in range(d[0].shape[0])]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def as_grid(d: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"composite_d{i + 1}": x for i, x in enumerate(d)}


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (NaN == NaN, and -0.0 != +0.0)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------- strategies

VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, np.nan, np.inf]),
    st.floats(-5, 5, allow_nan=False, width=64),
)


@st.composite
def scoring_configs(draw: st.DrawFn) -> ScoringConfig:
    W = draw(st.integers(2, 12))
    return ScoringConfig(
        zscore_window_bins=W,
        zscore_min_periods=draw(st.integers(1, W)),
        derivative_weights=tuple(draw(st.floats(-1, 1)) for _ in range(3)),
        tanh_scale=draw(st.floats(0.1, 5)),
        threshold_neutral=draw(st.floats(0, 0.9)),
    )


@st.composite
def derivative_blocks(draw: st.DrawFn) -> list[np.ndarray]:
    shape = (draw(st.integers(1, 40)), draw(st.integers(1, 4)))
    return [draw(arrays(np.float64, shape, elements=VALUES)) for _ in range(3)]


def _usable(cfg: ScoringConfig) -> bool:
    return sum(abs(w) for w in cfg.derivative_weights) > 0


# ---------------------------------------------------------------- tests


def test_golden_vectors() -> None:
    """Pinned scores/states for known d1/d2/d3 sequences (golden/scorer_v1.json)."""
    if os.environ.get("SPYMASTER_REGEN_GOLDEN"):
        _write_golden()
    data = json.loads(GOLDEN.read_text())
    for case in data["cases"]:
        cfg = ScoringConfig(**case["scoring"])
        d = [np.array(case[k], dtype=np.float64) for k in ("d1", "d2", "d3")]
        score, state = score_dataset(as_grid(d), cfg)
        expected = np.array(case["flow_score"], dtype=np.float64)
        assert same(score, expected), case["name"]
        assert np.array_equal(state, np.array(case["flow_state_code"], dtype=np.int8))
        inc_score, inc_state = incremental(d, cfg)
        assert same(inc_score, expected) and np.array_equal(inc_state, state)


def _golden_cases() -> list[dict]:
    from tests.scoring.grids import lcg_uniform

    n, c = 60, 5
    u = lcg_uniform(3 * n * c, 42).reshape(3, n, c) * 2 - 1
    u[0, 10:14, 2] = np.nan  # missing inputs
    u[:, 20:40, 3] = 0.25  # constant stretch -> MAD 0 -> z 0
    u[1, 5, 0] = np.inf  # non-finite = missing
    u[2, :, 4] = np.round(u[2, :, 4] * 2) / 2  # heavy ties
    small = {"zscore_window_bins": 12, "zscore_min_periods": 4}
    return [
        {"name": "window12", "scoring": small, "d": u},
        {
            "name": "window7_even_weights",
            "scoring": {
                "zscore_window_bins": 7,
                "zscore_min_periods": 7,
                "derivative_weights": [0.5, -0.25, 0.25],
                "tanh_scale": 1.5,
                "threshold_neutral": 0.3,
            },
            "d": u,
        },
    ]


def _write_golden() -> None:
    def enc(a: np.ndarray) -> list:
        return [[None if not math.isfinite(v) else float(v) for v in row] for row in a]

    cases = []
    for case in _golden_cases():
        d = case["d"]
        # the golden values come from the numpy twin, not from the kernel under test
        score, state = twin_scores(list(d), ScoringConfig(**case["scoring"]))
        cases.append(
            {
                "name": case["name"],
                "scoring": case["scoring"],
                "d1": _enc_inf(d[0]),
                "d2": _enc_inf(d[1]),
                "d3": _enc_inf(d[2]),
                "flow_score": enc(score),
                "flow_state_code": state.tolist(),
            }
        )
    GOLDEN.write_text(json.dumps({"version": 1, "cases": cases}, indent=None) + "\n")


def _enc_inf(a: np.ndarray) -> list:
    return [
        [None if math.isnan(v) else (str(v) if math.isinf(v) else float(v)) for v in r] for r in a
    ]


def test_matches_numpy_twin_on_random_windows() -> None:
    rng = np.random.default_rng(3)
    d = [rng.normal(size=(400, 6)) for _ in range(3)]
    d[0][rng.random(d[0].shape) < 0.05] = np.nan
    d[1][:, 2] = np.round(d[1][:, 2])  # ties
    for cfg in (
        ScoringConfig(zscore_window_bins=50, zscore_min_periods=10),
        ScoringConfig(zscore_window_bins=51, zscore_min_periods=51, tanh_scale=1.0),
        ScoringConfig(),  # W = 300
    ):
        score, state = score_dataset(as_grid(d), cfg)
        t_score, t_state = twin_scores(d, cfg)
        assert same(score, t_score)
        assert np.array_equal(state, t_state)


@settings(max_examples=150, deadline=None)
@given(cfg=scoring_configs(), d=derivative_blocks())
def test_property_twin_and_incremental_equal_batch(cfg: ScoringConfig, d: list[np.ndarray]) -> None:
    if not _usable(cfg):
        return
    score, state = score_dataset(as_grid(d), cfg)
    inc_score, inc_state = incremental(d, cfg)
    assert same(score, inc_score) and np.array_equal(state, inc_state)
    t_score, t_state = twin_scores(d, cfg)
    assert np.array_equal(score, t_score, equal_nan=True)
    assert np.array_equal(state, t_state)


@settings(max_examples=60, deadline=None)
@given(cfg=scoring_configs(), d=derivative_blocks(), data=st.data())
def test_no_look_ahead(cfg: ScoringConfig, d: list[np.ndarray], data: st.DataObject) -> None:
    if not _usable(cfg):
        return
    n = d[0].shape[0]
    t = data.draw(st.integers(0, n - 1))
    changed = [x.copy() for x in d]
    for x in changed:
        x[t + 1 :] = data.draw(st.floats(-9, 9)) if n > t + 1 else 0.0
    a, sa = score_dataset(as_grid(d), cfg)
    b, sb = score_dataset(as_grid(changed), cfg)
    assert same(a[: t + 1], b[: t + 1]) and np.array_equal(sa[: t + 1], sb[: t + 1])


def test_split_runs_continue_state() -> None:
    """Scoring in chunks (run, then update, then run) equals one batch over all bins."""
    rng = np.random.default_rng(5)
    d = [rng.normal(size=(90, 4)) for _ in range(3)]
    cfg = ScoringConfig(zscore_window_bins=20, zscore_min_periods=5)
    whole, _ = score_dataset(as_grid(d), cfg)
    scorer = SpectrumScorer(cfg, 4)
    a, _ = scorer.run(d[0][:40], d[1][:40], d[2][:40])
    b, _ = scorer.update(d[0][40], d[1][40], d[2][40])
    c, _ = scorer.run(d[0][41:], d[1][41:], d[2][41:])
    assert same(np.vstack([a, b[None], c]), whole)
    assert scorer.n_seen == 90


def test_warmup_and_edge_cases() -> None:
    cfg = ScoringConfig(zscore_window_bins=5, zscore_min_periods=3, threshold_neutral=0.1)
    scorer = SpectrumScorer(cfg, 3)
    ones = np.ones(3)
    for _ in range(2):  # not ready: NaN score, state 0
        s, code = scorer.update(ones, ones, ones)
        assert np.isnan(s).all() and (code == 0).all() and code.dtype == np.int8
    s, code = scorer.update(ones, ones, ones)  # constant window: MAD 0 -> z 0 -> score 0
    assert (s == 0).all() and (code == 0).all()
    nan = np.array([np.nan, 1.0, 1.0])
    s, code = scorer.update(nan, ones, ones)  # missing input: NaN for that cell only
    assert np.isnan(s[0]) and code[0] == 0 and s[1] == 0.0


def test_state_codes_follow_threshold() -> None:
    cfg = ScoringConfig(zscore_window_bins=10, zscore_min_periods=3, threshold_neutral=0.15)
    rng = np.random.default_rng(9)
    d = [rng.normal(size=(200, 5)) for _ in range(3)]
    score, state = score_dataset(as_grid(d), cfg)
    ok = np.isfinite(score)
    expected = np.where(score > 0.15, 1, np.where(score < -0.15, -1, 0))
    assert np.array_equal(state[ok], expected[ok]) and (state[~ok] == 0).all()
    assert np.nanmax(np.abs(score)) <= 1.0


def test_score_dataset_accepts_grid_frames() -> None:
    from tests.scoring.grids import lcg_grid

    cells = lcg_grid(30, 5)
    frames = GridFrames(bins={"bin_seq": np.arange(30)}, cells=cells)
    cfg = ScoringConfig(zscore_window_bins=8, zscore_min_periods=2)
    a, _ = score_dataset(frames, cfg)
    b, _ = score_dataset(cells, cfg)
    assert same(a, b)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="derivative_weights"):
        SpectrumScorer(ScoringConfig(derivative_weights=(0.0, 0.0, 0.0)), 3)
    with pytest.raises(ValueError, match="composite_d1"):
        SpectrumScorer(ScoringConfig(), 3).update(np.zeros(4), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="composite_d3"):
        score_dataset(
            {"composite_d1": np.zeros((2, 3)), "composite_d2": np.zeros((2, 3))}, ScoringConfig()
        )


def test_update_takes_any_float_rows_and_refuses_bad_ones_without_a_trace() -> None:
    """Read-only rows (Arrow columns are), strided, float32, lists and mixes of them score
    the same bits as plain float64 rows; a row of the wrong shape is refused by name and
    leaves the scorer as it was."""
    cfg = ScoringConfig(zscore_window_bins=20, zscore_min_periods=5)
    rng = np.random.default_rng(11)
    d = [rng.normal(size=(40, 6)).astype(np.float32).astype(np.float64) for _ in range(3)]
    expected = incremental(d, cfg)

    def readonly(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        x.flags.writeable = False
        return x

    forms = [
        readonly,
        lambda x: np.repeat(x, 2)[::2],  # strided view
        lambda x: x.astype(np.float32),
        lambda x: x.tolist(),
    ]
    for k, form in enumerate(forms):
        scorer = SpectrumScorer(cfg, 6)
        for t in range(40):
            row = [form(d[0][t]), d[1][t] if k % 2 else form(d[1][t]), form(d[2][t])]
            if t == 20:
                before = (scorer._fstate.copy(), scorer._istate.copy())
                with pytest.raises(ValueError, match=r"composite_d2 must have shape \(6,\)"):
                    scorer.update(row[0], np.zeros(5), row[2])
                with pytest.raises(ValueError, match="composite_d3"):
                    scorer.update(row[0], row[1], np.zeros((6, 1)))
                assert same(scorer._fstate, before[0]) and same(scorer._istate, before[1])
            score, state = scorer.update(*row)
            assert same(score, expected[0][t]) and same(state, expected[1][t]), (k, t)


@settings(max_examples=60, deadline=None)
@given(cfg=scoring_configs(), d=derivative_blocks(), data=st.data())
def test_property_zscores_then_blend_equal_batch(
    cfg: ScoringConfig, d: list[np.ndarray], data: st.DataObject
) -> None:
    """A sweep's two steps (robust_zscores once per window, blend_zscores per weights and
    tanh_scale) give score_dataset's bits for every blend of the same window."""
    if not _usable(cfg):
        return
    z = robust_zscores(as_grid(d), cfg)
    assert z.shape == (*d[0].shape, 3)
    other = cfg.model_copy(
        update={
            "tanh_scale": data.draw(st.floats(0.5, 5.0)),
            "derivative_weights": (0.2, data.draw(st.floats(-1.0, 1.0)), 0.3),
            "threshold_neutral": data.draw(st.floats(0.0, 0.9)),
        }
    )
    for s in (cfg, other):
        score, state = score_dataset(as_grid(d), s)
        b_score, b_state = blend_zscores(z, s)
        assert same(score, b_score) and np.array_equal(state, b_state)


def test_blend_zscores_refuses_a_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"z must have shape \(n_bins, n_cells, 3\)"):
        blend_zscores(np.zeros((4, 2)), ScoringConfig())


def test_largest_window_runs_batch_and_live() -> None:
    """W at the config's limit (100,000 bins): the batch kernel's ring buffer is its own
    allocation for the whole call (a freed buffer would fault at this size)."""
    cfg = ScoringConfig(zscore_window_bins=100_000, zscore_min_periods=2)
    rng = np.random.default_rng(9)
    d = [rng.normal(size=(30, 2)) for _ in range(3)]
    score, state = score_dataset(as_grid(d), cfg)
    inc_score, inc_state = incremental(d, cfg)
    assert same(score, inc_score) and np.array_equal(state, inc_state)
    assert np.isnan(score[0]).all() and np.isfinite(score[1:]).all()
