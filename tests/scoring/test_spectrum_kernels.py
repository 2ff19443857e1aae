"""Spectrum kernels against their slow definitions: sorted window upkeep, median, MAD selection."""

from __future__ import annotations

import numpy as np
import pytest

from spymaster_shared.scoring import spectrum_kernels as kernels


def slow_mad(v: np.ndarray) -> float:
    """The definition: np.median of |v - np.median(v)| over the finite values v."""
    return float(np.median(np.abs(v - np.median(v))))


def padded(values: np.ndarray, W: int) -> tuple[np.ndarray, np.ndarray]:
    """A window as the kernels keep it: sorted values, +inf to whole blocks, block pivots."""
    n_blocks = -(-W // kernels.BLOCK)
    a = np.full(n_blocks * kernels.BLOCK, np.inf)
    a[: len(values)] = np.sort(values)
    piv = np.full(-(-n_blocks // 8) * 8, np.inf)
    piv[:n_blocks] = a[:: kernels.BLOCK]
    return a, piv


def random_window(rng: np.random.Generator, W: int) -> np.ndarray:
    """Up to W values with heavy ties, zeros and NaNs (dropped: the window's finite values)."""
    n = int(rng.integers(1, W + 1))
    kind = rng.integers(4)
    if kind == 0:
        v = rng.normal(size=n)
    elif kind == 1:
        v = np.round(rng.normal(size=n) * 2) / 2  # ties
    elif kind == 2:
        v = rng.choice([0.0, 1.0, 2.0, 1e-300, -5e-324], size=n)  # few distinct, tiny values
    else:
        v = np.where(rng.random(n) < 0.7, 3.0, rng.normal(size=n))  # mostly constant
    v[rng.random(n) < 0.2] = np.nan
    v = v[np.isfinite(v)] + 0.0
    return v if len(v) else np.array([0.0])


EDGE_WINDOWS = [
    [0.0],
    [1.0, 1.0],
    [-5e-324, -5e-324, 0.0, 0.0],  # median rounds to -0.0
    [0.0, 0.0, 0.0, 7.0],  # MAD 0
    [1.0, 2.0, 2.0, 2.0, 3.0, 100.0],
]


@pytest.mark.parametrize("W", [2, 3, 16, 17, 31, 300])
def test_mad_selection_equals_definition_with_ties_and_nans(W: int) -> None:
    rng = np.random.default_rng(W)
    edges = [np.array(e) for e in EDGE_WINDOWS if len(e) <= W]
    for v in edges + [random_window(rng, W) for _ in range(400)]:
        a, _ = padded(v, W)
        n = len(v)
        med = kernels.sorted_median(a, n)
        assert med == np.median(v)
        expected = slow_mad(v)
        assert np.float64(kernels.sorted_mad(a, n, med)).tobytes() == np.float64(expected).tobytes()
        for hint in (0, n // 4, n // 2, n, int(rng.integers(-3, n + 3))):
            mad, split = kernels.sorted_mad_near(a, n, med, hint)
            assert np.float64(mad).tobytes() == np.float64(expected).tobytes(), (v, hint)
            assert 0 <= split <= n // 2


def test_mad_selection_near_float64_limit_falls_back_exactly() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        v = rng.choice([-1.7e308, -1e308, 0.0, 1e308, 1.7e308, 5.0], size=int(rng.integers(1, 12)))
        a, _ = padded(v, 16)
        n = len(v)
        with np.errstate(over="ignore", invalid="ignore"):
            med = kernels.sorted_median(a, n)
            expected = kernels.sorted_mad(a, n, med)
        mad, _ = kernels.sorted_mad_near(a, n, med, int(rng.integers(0, n + 1)))
        assert np.float64(mad).tobytes() == np.float64(expected).tobytes()


@pytest.mark.parametrize("W", [2, 5, 16, 33, 300])
def test_sorted_replace_keeps_the_window_sorted(W: int) -> None:
    """Random pushes (NaN = missing) keep a[:n] == sorted finite ring values, +inf beyond."""
    rng = np.random.default_rng(100 + W)
    ring = np.full(W, np.nan)
    a, piv = padded(np.array([]), W)
    n = 0
    for t in range(6 * W + 50):
        x = rng.choice([np.nan, 0.0, 1.0, -1.0, float(rng.normal())])
        old = ring[t % W]
        ring[t % W] = x
        n = kernels.sorted_replace(a, piv, n, old, x, not np.isnan(old), not np.isnan(x))
        finite = np.sort(ring[np.isfinite(ring)])
        assert n == len(finite)
        assert np.array_equal(a[:n], finite) and np.isposinf(a[n:]).all()
        assert np.array_equal(piv[: len(a) // kernels.BLOCK], a[:: kernels.BLOCK])
