"""Signals: registry, parameter validation, incremental == batch, causality, golden values."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spymaster_shared.config.serving import ScoringConfig, ServingSpec
from spymaster_shared.errors import ConfigError
from spymaster_shared.scoring import score_dataset
from spymaster_shared.scoring.signals import (
    ParamSpec,
    SignalSpec,
    get_signal,
    list_signals,
    make_signal,
    ms_to_bins,
    register_signal,
)
from spymaster_shared.scoring.signals.derivative import DerivativeSignal
from tests.scoring.grids import lcg_grid

BUILTIN = ("derivative", "ads", "pfp", "svac", "ads_pfp_svac", "erd", "iirc", "jad", "msd", "spg")
GOLDEN = Path(__file__).parent / "golden" / "signals_v1.json"
# short windows so that every signal is ready within a few dozen bins
FAST = {
    "ads": {"ads_slope_windows_ms": [300, 500], "ads_zscore_window_ms": 2000, "ads_warmup_ms": 0},
    "ads_pfp_svac": {
        "ads_slope_windows_ms": [300, 500],
        "ads_zscore_window_ms": 2000,
        "ads_warmup_ms": 500,
        "pfp_lag_ms": 200,
    },
    "pfp": {"pfp_lag_ms": 200, "pfp_ema_alpha": 0.5},
    "erd": {"erd_window_ms": 500},
    "jad": {"jad_window_ms": 800},
    "msd": {"msd_scales_ms": [200, 600]},
}
SCORING = ScoringConfig(zscore_window_bins=10, zscore_min_periods=3)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def run_both(name: str, cells: dict, params: dict | None = None, n_cells: int | None = None):
    n_cells = n_cells or cells["k"].shape[1]
    sig = get_signal(name).create(
        params if params is not None else FAST.get(name, {}), {}, cell_width_ms=100, n_cells=n_cells
    )
    flow, _ = score_dataset(cells, SCORING)
    bins: dict = {}
    batch = sig.batch(cells, flow, bins)
    inc = sig.incremental()
    rows = [
        inc.update({k: v[t] for k, v in cells.items()}, flow[t], {}) for t in range(flow.shape[0])
    ]
    return batch, np.array(rows, dtype=np.float64)


def test_registry_lists_builtins() -> None:
    assert set(BUILTIN) <= set(list_signals())
    for name in BUILTIN:
        spec = get_signal(name)
        assert spec.name == name and spec.description
        for pname, p in spec.params.items():
            assert isinstance(p, ParamSpec), pname
            assert p.kind in ("int", "float", "int_list", "bool")


def test_unknown_signal_lists_known() -> None:
    with pytest.raises(ConfigError, match=r"unknown signal 'nope'.*derivative") as e:
        get_signal("nope")
    assert e.value.field == "signal.name"


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("ads_pfp_svac", {"pfp_lag_ms": -1}, "signal.params.pfp_lag_ms"),
        ("ads_pfp_svac", {"bogus": 1}, "signal.params.bogus"),
        ("ads_pfp_svac", {"pfp_ema_alpha": 2.0}, "signal.params.pfp_ema_alpha"),
        (
            "ads_pfp_svac",
            {"ads_slope_windows_ms": [1000, "x"]},
            "signal.params.ads_slope_windows_ms",
        ),
        ("ads_pfp_svac", {"composite_weight_ads": 11}, "signal.params.composite_weight_ads"),
        ("derivative", {"band_ticks": 2.5}, "signal.params.band_ticks"),
        ("derivative", {"ema_alpha": True}, "signal.params.ema_alpha"),
        ("svac", {"svac_band_ticks": 9, "svac_ref_ticks": 4}, "signal.params.svac_ref_ticks"),
        ("iirc", {"iirc_fast_alpha": 0.01}, "signal.params.iirc_slow_alpha"),
        ("msd", {"msd_scales_ms": [500]}, "signal.params.msd_scales_ms"),
    ],
)
def test_bad_params_are_refused(name: str, params: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        get_signal(name).create(params, {}, cell_width_ms=100, n_cells=21)
    assert e.value.field == field
    assert field in str(e.value)


def test_bad_weights_and_geometry_are_refused() -> None:
    spec = get_signal("ads_pfp_svac")
    with pytest.raises(ConfigError, match=r"signal\.weights\.foo"):
        spec.create({}, {"foo": 1.0}, cell_width_ms=100, n_cells=21)
    with pytest.raises(ConfigError, match=r"signal\.weights"):
        spec.create({}, {"ads": 0, "pfp": 0, "svac": 0}, cell_width_ms=100, n_cells=21)
    with pytest.raises(ConfigError, match="n_cells"):
        spec.create({}, {}, cell_width_ms=100, n_cells=20)
    with pytest.raises(ConfigError, match="cell_width_ms"):
        spec.create({}, {}, cell_width_ms=0, n_cells=21)


def test_serving_example_params_accepted_and_weights_overridden() -> None:
    serving = ServingSpec.model_validate(
        {
            "name": "x",
            "pipeline": "p",
            "signal": {
                "name": "ads_pfp_svac",
                "params": {
                    "ads_slope_windows_ms": [1000, 2500, 5000],
                    "ads_zscore_window_ms": 20000,
                    "ads_warmup_ms": 20000,
                    "pfp_lag_ms": 500,
                    "pfp_ema_alpha": 0.05,
                },
                "weights": {"ads": 0.40, "pfp": 0.25, "svac": 0.30},
            },
        }
    )
    sig = make_signal(serving, cell_width_ms=100, n_cells=101)
    assert sig.weights == {"ads": 0.40, "pfp": 0.25, "svac": 0.30}
    swept = get_signal("ads_pfp_svac").create(
        {"composite_weight_ads": 0.35, "composite_weight_svac": 0.3},
        {"ads": 0.40, "pfp": 0.25, "svac": 0.30},
        cell_width_ms=100,
        n_cells=101,
    )
    assert swept.weights == {"ads": 0.35, "pfp": 0.25, "svac": 0.3}


def test_ms_to_bins_rounds_half_up() -> None:
    assert ms_to_bins(500, 100) == 5
    assert ms_to_bins(250, 100) == 3
    assert ms_to_bins(249, 100) == 2
    assert ms_to_bins(10, 100) == 1
    assert ms_to_bins(0, 100, minimum=0) == 0


@pytest.mark.parametrize("name", BUILTIN)
def test_incremental_equals_batch_and_bounded(name: str) -> None:
    cells = lcg_grid(160, 11)
    batch, inc = run_both(name, cells)
    assert same(batch, inc)
    finite = batch[np.isfinite(batch)]
    assert finite.size > 40, name  # becomes ready
    assert np.all(np.abs(finite) <= 1.0)


@st.composite
def grids(draw: st.DrawFn) -> dict:
    n_bins = draw(st.integers(1, 60))
    n_cells = draw(st.sampled_from([3, 5, 9]))
    cells = lcg_grid(n_bins, n_cells, seed=draw(st.integers(0, 10_000)))
    # sprinkle missing values anywhere
    for name in draw(st.lists(st.sampled_from(sorted(cells)), max_size=4)):
        t = draw(st.integers(0, n_bins - 1))
        c = draw(st.integers(0, n_cells - 1))
        cells[name][t, c] = draw(st.sampled_from([np.nan, np.inf, 0.0]))
    return cells


@settings(max_examples=40, deadline=None)
@given(cells=grids(), name=st.sampled_from(BUILTIN))
def test_property_incremental_equals_batch(cells: dict, name: str) -> None:
    batch, inc = run_both(name, cells)
    assert same(batch, inc)


@settings(max_examples=40, deadline=None)
@given(cells=grids(), name=st.sampled_from(BUILTIN), data=st.data())
def test_property_no_look_ahead(cells: dict, name: str, data: st.DataObject) -> None:
    n = cells["k"].shape[0]
    t = data.draw(st.integers(0, n - 1))
    changed = {k: v.copy() for k, v in cells.items()}
    for v in changed.values():
        v[t + 1 :] = data.draw(st.sampled_from([0.0, 1.0, -2.0, np.nan]))
    a, _ = run_both(name, cells)
    b, _ = run_both(name, changed)
    assert same(a[: t + 1], b[: t + 1])


@pytest.mark.parametrize("name", ["derivative", "ads_pfp_svac", "ads", "pfp"])
def test_flow_score_signals_follow_scoring_params(name: str) -> None:
    cells = lcg_grid(160, 11)
    sig = get_signal(name).create(FAST.get(name, {}), {}, cell_width_ms=100, n_cells=11)
    a = sig.batch(cells, score_dataset(cells, SCORING)[0], {})
    other = ScoringConfig(zscore_window_bins=10, zscore_min_periods=3, tanh_scale=1.0)
    b = sig.batch(cells, score_dataset(cells, other)[0], {})
    assert not np.array_equal(a, b, equal_nan=True)


def test_missing_input_column_is_named() -> None:
    sig = get_signal("svac").create({}, {}, cell_width_ms=100, n_cells=5)
    with pytest.raises(ValueError, match="vacuum_variant"):
        sig.batch({}, np.zeros((3, 5)), {})


def test_external_signal_registration() -> None:
    spec = SignalSpec(
        name="test_ext_signal",
        description="test",
        params={"band_ticks": ParamSpec(3, 1, 50, "int"), "ema_alpha": ParamSpec(1.0, 0.01, 1.0)},
        factory=lambda params, weights, **geo: DerivativeSignal(params, **geo),
    )
    register_signal(spec)
    assert "test_ext_signal" in list_signals()
    with pytest.raises(ConfigError, match="already registered"):
        register_signal(SignalSpec("test_ext_signal", "x", {}, spec.factory))
    register_signal(SignalSpec("test_ext_signal", "x", spec.params, spec.factory), replace=True)
    sig = get_signal("test_ext_signal").create({}, {}, cell_width_ms=100, n_cells=7)
    assert sig.batch({}, np.zeros((4, 7)), {}).tolist() == [0.0] * 4


def test_golden_signal_values() -> None:
    """Pinned outputs on a deterministic grid (golden/signals_v1.json): any change is visible."""
    cells = lcg_grid(120, 11, seed=3)
    if os.environ.get("SPYMASTER_REGEN_GOLDEN"):
        out = {}
        for name in BUILTIN:
            values = run_both(name, cells)[0]
            out[name] = [None if math.isnan(v) else float(v) for v in values]
        GOLDEN.write_text(json.dumps({"version": 1, "params": FAST, "values": out}) + "\n")
    data = json.loads(GOLDEN.read_text())
    for name in BUILTIN:
        expected = np.array(data["values"][name], dtype=np.float64)
        assert same(run_both(name, cells, data["params"].get(name, {}))[0], expected), name
