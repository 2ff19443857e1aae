"""Each numba kernel against a slow, obviously-correct pure-Python twin on random input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spymaster_engine.core import kernels as K
from spymaster_engine.core.chain import ChainBasis, chain_matrix, impulse_direction
from spymaster_engine.core.layout import (
    CF_BAND,
    CF_EPS,
    HT_EMPTY,
    HT_TOMB,
    N_CF,
    N_SC,
    SC_HT_TOMB,
    SC_HT_USED,
)

TAUS = (30.0, 2.0, 5.0, 10.0)  # tau_rest_decay, tau_velocity, tau_acceleration, tau_jerk


def expm(a: np.ndarray) -> np.ndarray:
    """Matrix exponential by scaling and squaring of a Taylor series (twin of the eigenbasis)."""
    norm = np.abs(a).sum(axis=1).max()
    k = max(0, math.ceil(math.log2(norm)) + 4) if norm > 0 else 0
    b = a / 2**k
    out, term = np.eye(len(a)), np.eye(len(a))
    for n in range(1, 30):
        term = term @ b / n
        out = out + term
    for _ in range(k):
        out = out @ out
    return out


def twin_chain(events, t_eval, inv_tau_q):
    """x = (q, v, a, j) by direct propagation x(t+dt) = expm(M dt) x and impulses dq * d."""
    m = chain_matrix(inv_tau_q, *TAUS[1:])
    d = impulse_direction(*TAUS[1:])
    x, t = np.zeros(4), events[0][0]
    for te, dq in events:
        x = expm(m * (te - t) * 1e-9) @ x + dq * d
        t = te
    return expm(m * (t_eval - t) * 1e-9) @ x


def test_chain_kernels_match_matrix_exponential():
    rng = np.random.default_rng(0)
    basis = ChainBasis(*TAUS)
    for _ in range(20):
        n_ev = int(rng.integers(1, 12))
        times = np.cumsum(rng.integers(0, 3_000_000_000, size=n_ev)) + 10**18
        dqs = rng.integers(-20, 21, size=n_ev).astype(float)
        events = list(zip(times.tolist(), dqs.tolist(), strict=True))
        y = np.zeros((4, 5, 4))
        t_last = np.zeros(4, dtype=np.int64)
        s = 2
        for te, dq in events:
            for g in range(5):
                K.chain_propagate(y, t_last, s, te, basis.lam)
                b = basis.b_mass if g < 3 else basis.b_depth
                K.chain_impulse(y, s, g, dq, b)
        t_eval = int(times[-1]) + int(rng.integers(0, 5_000_000_000))
        x = np.zeros((5, 4))
        before = y.copy()
        K.chain_evaluate(y, t_last, s, t_eval, basis.lam, basis.v_mass, basis.v_depth, x)
        np.testing.assert_array_equal(y, before)  # evaluation does not mutate
        want_mass = twin_chain(events, t_eval, 1.0 / TAUS[0])
        want_depth = twin_chain(events, t_eval, 0.0)
        scale = max(1.0, np.abs(want_mass).max())
        for g in range(3):
            np.testing.assert_allclose(x[g], want_mass, rtol=1e-9, atol=1e-11 * scale)
        for g in range(3, 5):
            np.testing.assert_allclose(x[g, 1:], want_depth[1:], rtol=1e-9, atol=1e-11 * scale)


def test_warmup_evaluation_is_bit_identical_on_v_and_a():
    """chain_evaluate_va (warmup bins: what the composite needs) equals chain_evaluate on
    v and a exactly, and leaves the rest of x alone."""
    rng = np.random.default_rng(5)
    basis = ChainBasis(*TAUS)
    y = rng.normal(size=(8, 5, 4)) * 10.0 ** rng.integers(-3, 4, size=(8, 5, 4))
    t_last = 10**18 + rng.integers(0, 10**10, size=8)
    for s in range(8):
        t = int(t_last[s]) + int(rng.integers(0, 10**10))
        full = np.zeros((5, 4))
        K.chain_evaluate(y, t_last, s, t, basis.lam, basis.v_mass, basis.v_depth, full)
        va = np.full((5, 4), 7.0)
        K.chain_evaluate_va(y, t_last, s, t, basis.lam, basis.v_mass, basis.v_depth, va)
        assert va[:, 1:3].tobytes() == full[:, 1:3].tobytes()
        assert (va[:, 0] == 7.0).all() and (va[:, 3] == 7.0).all()


def test_impulse_response_is_the_ema_derivative_chain():
    """Check the ODE itself numerically: v ~ dq/dt filtered by tau_v, by fine Euler steps."""
    basis = ChainBasis(*TAUS)
    y = np.zeros((1, 5, 4))
    t_last = np.zeros(1, dtype=np.int64)
    K.chain_propagate(y, t_last, 0, 10**18, basis.lam)
    K.chain_impulse(y, 0, 0, 10.0, basis.b_mass)
    x = np.zeros((5, 4))
    K.chain_evaluate(
        y, t_last, 0, 10**18 + 1_000_000_000, basis.lam, basis.v_mass, basis.v_depth, x
    )
    tq, tv, ta, tj = TAUS
    q, v, a, j = 10.0, 10.0 / tv, 10.0 / (tv * ta), 10.0 / (tv * ta * tj)
    h = 1e-5
    for _ in range(int(1.0 / h)):
        dq = -q / tq
        dv = (dq - v) / tv
        da = (dv - a) / ta
        dj = (da - j) / tj
        q, v, a, j = q + h * dq, v + h * dv, a + h * da, j + h * dj
    np.testing.assert_allclose(x[0], [q, v, a, j], rtol=1e-4, atol=1e-7)


def test_force_composite_and_state5_match_formulas():
    rng = np.random.default_rng(1)
    coef = np.zeros(N_CF)
    coef[:7] = rng.uniform(0, 2, size=7)
    coef[CF_EPS] = 1.0
    coef[CF_BAND] = 0.1
    for _ in range(200):
        x = rng.normal(0, 5, size=(5, 4))
        p, v, c = K.force_composite(x, coef)
        v_rest = x[3, 1] + x[4, 1]
        wp = coef[0] * x[0, 1] + coef[1] * max(v_rest, 0) + coef[2] * max(x[0, 2], 0)
        wv = (
            coef[3] * x[1, 1]
            + coef[4] * x[2, 1]
            + coef[5] * max(-v_rest, 0)
            + coef[6] * max(x[1, 2], 0)
        )
        assert p == pytest.approx(wp) and v == pytest.approx(wv)
        assert c == pytest.approx((wp - wv) / (abs(wp) + abs(wv) + 1.0))
        for k in (-3, 0, 4):
            code = K.state5(k, c, 0.1)
            if abs(c) < 0.1:
                assert code == 0
            elif k >= 0:
                assert code == (2 if c < 0 else -1)
            else:
                assert code == (1 if c > 0 else -2)


def test_spectrum_update_matches_direct_window_means():
    rng = np.random.default_rng(2)
    windows = np.array([2, 3, 7], dtype=np.int64)
    weights = np.array([1.0, 0.5, 2.0])
    rows = 5
    hist = np.zeros((7, rows))
    sums = np.zeros((3, rows))
    prev = np.zeros((3, rows))
    out = np.zeros((3, rows))
    seen: list[np.ndarray] = []
    s_prev = np.zeros(rows)
    d1_prev = np.zeros(rows)
    d2_prev = np.zeros(rows)
    for n in range(40):
        comp = rng.uniform(-1, 1, size=rows)
        K.spectrum_update(comp, hist, sums, prev, windows, weights, n, n % 7, out)
        seen.append(comp)
        means = [np.mean(seen[-w:], axis=0) for w in windows]
        s = sum(wt * m for wt, m in zip(weights, means, strict=True)) / weights.sum()
        d1 = s - s_prev
        d2 = d1 - d1_prev
        d3 = d2 - d2_prev
        np.testing.assert_allclose(out, [d1, d2, d3], rtol=1e-9, atol=1e-12)
        s_prev, d1_prev, d2_prev = s, d1, d2


def test_order_table_matches_dict():
    rng = np.random.default_rng(3)
    cap = 1 << 10
    pub = np.full(cap, HT_EMPTY, dtype=np.int64)
    oid = np.zeros(cap, dtype=np.uint64)
    sc = np.zeros(N_SC, dtype=np.int64)
    ref: dict[tuple[int, int], int] = {}
    for _ in range(20_000):
        p = int(rng.integers(1, 4))
        o = int(rng.integers(0, 600)) + (1 << 63) * int(rng.integers(0, 2))  # high bit too
        slot = K.ht_find(pub, oid, p, np.uint64(o))
        assert (slot >= 0) == ((p, o) in ref)
        if slot >= 0:
            assert ref[(p, o)] == slot
            if rng.random() < 0.5:
                pub[slot] = HT_TOMB
                sc[SC_HT_USED] -= 1
                sc[SC_HT_TOMB] += 1
                del ref[(p, o)]
        elif (sc[SC_HT_USED] + sc[SC_HT_TOMB] + 2) * 2 <= cap:
            ref[(p, o)] = K.ht_insert(pub, oid, sc, p, np.uint64(o))
        else:  # rehash, as the engine does
            npub = np.full(cap, HT_EMPTY, dtype=np.int64)
            noid = np.zeros(cap, dtype=np.uint64)
            val = np.zeros((cap, 1), dtype=np.int64)
            assert K.ht_rehash(pub, oid, val, npub, noid, val.copy()) == len(ref)
            pub, oid = npub, noid
            sc[SC_HT_TOMB] = 0
            ref = {k: K.ht_find(pub, oid, k[0], np.uint64(k[1])) for k in ref}
        assert sc[SC_HT_USED] == len(ref)
    assert all(K.ht_find(pub, oid, p, np.uint64(o)) >= 0 for p, o in ref)
