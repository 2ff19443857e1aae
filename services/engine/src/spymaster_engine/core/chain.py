"""The EMA derivative chain as a linear system, and its modal (eigen) basis.

Per price tick and per quantity (add, pull, fill mass; bid, ask depth) the state
``x = (q, v, a, j)`` follows, between events (time in seconds of event time)::

    q' = -q / tau_q                     (tau_q = tau_rest_decay for masses, infinite for depths)
    v' = (q' - v) / tau_v
    a' = (v' - a) / tau_a
    j' = (a' - j) / tau_j

i.e. ``x' = M x`` with ``M`` lower triangular, eigenvalues ``-1/tau_q, -1/tau_v, -1/tau_a,
-1/tau_j``. An event adding ``dq`` to ``q`` is an impulse ``dq * (1, 1/tau_v,
1/(tau_v tau_a), 1/(tau_v tau_a tau_j))``. With distinct eigenvalues ``M = V diag(lam) V^-1``;
the engine stores ``y = V^-1 x`` (modal coordinates) so that propagating over ``dt`` is
``y_m *= exp(lam_m dt)`` and an impulse is ``y += dq * (V^-1 b)``. See ``docs/engine.md``.
"""

from __future__ import annotations

import itertools

import numpy as np

from spymaster_shared.errors import ConfigError

# Eigenvalues closer than this (relative) make V ill-conditioned; such configs are refused.
MIN_RELATIVE_GAP = 1e-4


def chain_matrix(inv_tau_q: float, tau_v: float, tau_a: float, tau_j: float) -> np.ndarray:
    """The 4x4 generator ``M`` of ``x = (q, v, a, j)`` between events (units 1/s)."""
    lq, lv, la, lj = inv_tau_q, 1.0 / tau_v, 1.0 / tau_a, 1.0 / tau_j
    return np.array(
        [
            [-lq, 0.0, 0.0, 0.0],
            [-lq * lv, -lv, 0.0, 0.0],
            [-lq * lv * la, -lv * la, -la, 0.0],
            [-lq * lv * la * lj, -lv * la * lj, -la * lj, -lj],
        ]
    )


def impulse_direction(tau_v: float, tau_a: float, tau_j: float) -> np.ndarray:
    """The jump of ``x`` per unit jump of ``q``: ``(1, 1/tv, 1/(tv ta), 1/(tv ta tj))``."""
    return np.array([1.0, 1.0 / tau_v, 1.0 / (tau_v * tau_a), 1.0 / (tau_v * tau_a * tau_j)])


def modal_basis(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues, unit-diagonal lower-triangular eigenvectors V, and W = V^-1 of ``m``.

    Column ``i`` of V solves ``(M - lam_i I) v = 0`` with ``v_i = 1``, ``v_<i = 0``,
    by forward substitution. Requires distinct diagonal entries.
    """
    n = m.shape[0]
    lam = np.diag(m).copy()
    v = np.zeros((n, n))
    for i in range(n):
        v[i, i] = 1.0
        for r in range(i + 1, n):
            v[r, i] = -(m[r, i:r] @ v[i:r, i]) / (m[r, r] - lam[i])
    w = np.linalg.inv(v)
    return lam, v, w


def check_distinct_taus(tau_q: float, tau_v: float, tau_a: float, tau_j: float) -> None:
    """Refuse time constants whose decay rates coincide (the modal basis would not exist)."""
    named = {
        "tau_rest_decay": tau_q,
        "tau_velocity": tau_v,
        "tau_acceleration": tau_a,
        "tau_jerk": tau_j,
    }
    for (na, a), (nb, b) in itertools.combinations(named.items(), 2):
        if abs(1.0 / a - 1.0 / b) <= MIN_RELATIVE_GAP * max(1.0 / a, 1.0 / b):
            raise ConfigError(
                f"{na}={a} and {nb}={b} must differ (by more than {MIN_RELATIVE_GAP:g} relative):"
                " the derivative chain is solved in its eigenbasis, which needs distinct rates",
                field=f"pipeline.{nb}",
            )


class ChainBasis:
    """Per-group modal data the kernels use: rates, V (eval) and modal impulse vectors."""

    def __init__(self, tau_q: float, tau_v: float, tau_a: float, tau_j: float) -> None:
        check_distinct_taus(tau_q, tau_v, tau_a, tau_j)
        d = impulse_direction(tau_v, tau_a, tau_j)
        lam_m, self.v_mass, w_mass = modal_basis(chain_matrix(1.0 / tau_q, tau_v, tau_a, tau_j))
        lam_d, self.v_depth, w_depth = modal_basis(chain_matrix(0.0, tau_v, tau_a, tau_j))
        # rates (1/s, negative): q-mode of masses, then v, a, j (shared by both groups)
        self.lam = np.ascontiguousarray(lam_m)
        assert lam_d[0] == 0.0 and np.allclose(lam_d[1:], lam_m[1:])
        self.b_mass = w_mass @ d
        self.b_depth = w_depth @ d
