"""Numba kernels of the SpectrumScorer: robust z-score over a sorted ring window + tanh blend.

Kernels only; the formulas are in ``docs/scoring.md``. State layout, shared by every kernel:

- ``ring``  float64 (W, 3, n_cells): the last W inputs per (derivative j, cell c), in arrival
  order, slot ``n_seen % W``; a missing (non-finite) input is stored as NaN.
- ``srt``   float64 (3, n_cells, W): the finite values of each window, sorted ascending in
  ``srt[j, c, :count[j, c]]``.
- ``count`` int64 (3, n_cells): number of finite values in each window.
- ``meta``  int64 (1,): ``meta[0]`` = number of bins seen so far (``n_seen``).
- ``params`` float64 (6,): w1, w2, w3, sum(|w|), tanh_scale, threshold_neutral.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MAD_SCALE = 1.4826  # MAD -> sigma for a normal distribution


@njit(cache=True)
def count_below(a, n, x, inclusive):
    """Rank of ``x`` in the sorted prefix ``a[:n]``: #{a_i < x}, or #{a_i <= x} if inclusive.

    A branch-free counting pass (vectorised by LLVM) beats a binary search's mispredicted
    branches for windows of a few hundred values; the result is the same index.
    """
    c = 0
    if inclusive:
        for i in range(n):
            c += a[i] <= x
    else:
        for i in range(n):
            c += a[i] < x
    return c


@njit(cache=True)
def sorted_replace(a, n, old, new, old_ok, new_ok):
    """Replace ``old`` by ``new`` in the sorted prefix ``a[:n]``; returns the new length.

    ``old_ok``/``new_ok`` say whether ``old`` leaves / ``new`` enters the window (a missing
    value does neither). Rank both values in one counting pass (po = #{a < old},
    pn = #{a <= new}), then shift the elements between the two ranks by one slot:
    O(W) vectorised work per update, no allocation.
    """
    if old_ok and new_ok:
        po = 0
        pn = 0
        for i in range(n):
            po += a[i] < old
            pn += a[i] <= new
        # a[po] == old
        if new >= old:
            pn -= 1  # last slot <= new once old is gone
            for i in range(po, pn):
                a[i] = a[i + 1]
        else:
            for i in range(po, pn, -1):
                a[i] = a[i - 1]
        a[pn] = new
        return n
    if old_ok:
        po = count_below(a, n, old, False)
        for i in range(po, n - 1):
            a[i] = a[i + 1]
        return n - 1
    if new_ok:
        pn = count_below(a, n, new, True)
        for i in range(n, pn, -1):
            a[i] = a[i - 1]
        a[pn] = new
        return n + 1
    return n


@njit(cache=True)
def sorted_median(a, n):
    """Median of the sorted prefix ``a[:n]`` (n >= 1): middle value, or mean of the two."""
    h = n >> 1
    if n & 1:
        return a[h]
    return (a[h - 1] + a[h]) / 2.0


@njit(cache=True)
def _dev_left(a, h, med, i):
    # i-th smallest deviation among the lower half a[:h]: med - a[h-1-i] (non-decreasing in i)
    return med - a[h - 1 - i]


@njit(cache=True)
def _dev_right(a, h, med, j):
    # j-th smallest deviation among the upper half a[h:]: a[h+j] - med (non-decreasing in j)
    return a[h + j] - med


@njit(cache=True)
def sorted_mad(a, n, med):
    """Median absolute deviation ``median(|a[:n] - med|)`` of a sorted prefix, exactly.

    With h = n // 2 the deviations of ``a[:h]`` (read backwards) and of ``a[h:]`` are two
    sorted sequences, so the median of their union is a k-th-of-two-sorted-arrays selection:
    O(log n) binary search instead of a sort. ``|a_i - med|`` equals ``med - a_i`` or
    ``a_i - med`` bit for bit, so this is exactly ``np.median(np.abs(a - med))``.
    """
    h = n >> 1
    na = h
    nb = n - h
    k = n >> 1  # 0-based rank of the (upper) middle element of the union
    # choose i elements from the left, k + 1 - i from the right, for the k + 1 smallest
    lo = max(0, k + 1 - nb)
    hi = min(k + 1, na)
    i = lo
    while lo <= hi:
        i = (lo + hi) >> 1
        j = k + 1 - i
        if i < na and j > 0 and _dev_right(a, h, med, j - 1) > _dev_left(a, h, med, i):
            lo = i + 1
        elif i > 0 and j < nb and _dev_left(a, h, med, i - 1) > _dev_right(a, h, med, j):
            hi = i - 1
        else:
            break
    j = k + 1 - i
    # k-th smallest = max of the last taken on each side
    kth = -np.inf
    if i > 0:
        kth = _dev_left(a, h, med, i - 1)
    if j > 0:
        v = _dev_right(a, h, med, j - 1)
        if v > kth:
            kth = v
    if n & 1:
        return kth
    # even n: mean of the (k-1)-th and k-th smallest; the (k-1)-th is the larger of the
    # second-to-last taken on each side and the smaller last-taken one
    prev = -np.inf
    if i > 0 and j > 0:
        a_last = _dev_left(a, h, med, i - 1)
        b_last = _dev_right(a, h, med, j - 1)
        prev = min(a_last, b_last)
    if i > 1:
        v = _dev_left(a, h, med, i - 2)
        if v > prev:
            prev = v
    if j > 1:
        v = _dev_right(a, h, med, j - 2)
        if v > prev:
            prev = v
    return (prev + kth) / 2.0


@njit(cache=True)
def window_push_z(ring, srt, count, head, j, c, x, min_periods):
    """Push ``x`` into window (j, c) and return its robust z-score (NaN when not ready).

    z = (x - median(window)) / (1.4826 * MAD(window)), window = the last W inputs including
    this one, finite values only. z = 0 when MAD == 0 (constant window). NaN when ``x`` is
    non-finite or the window holds fewer than ``min_periods`` finite values. -0.0 is stored
    as +0.0 so that the window's sorted content never depends on the sign of zero.
    """
    old = ring[head, j, c]
    new_ok = math.isfinite(x)
    if new_ok:
        x = x + 0.0
    else:
        x = np.nan
    ring[head, j, c] = x
    w = srt[j, c]
    n = sorted_replace(w, count[j, c], old, x, not math.isnan(old), new_ok)
    count[j, c] = n
    if not new_ok or n < min_periods:
        return np.nan
    med = sorted_median(w, n)
    mad = sorted_mad(w, n, med)
    if mad == 0.0:
        return 0.0
    return (x - med) / (MAD_SCALE * mad)


@njit(cache=True)
def spectrum_update(d1, d2, d3, ring, srt, count, meta, params, min_periods, score, state):
    """One bin for all cells: score = sum_i w_i tanh(z_i / s) / sum_i |w_i|, state in {-1,0,1}.

    Inputs d1, d2, d3: float64 (n_cells,) composite derivatives (per bin, dimensionless).
    Writes ``score`` (float64, NaN when any z is NaN) and ``state`` (int8: +1 if
    score > threshold_neutral, -1 if score < -threshold_neutral, else 0; 0 when NaN).
    """
    n_cells = d1.shape[0]
    W = ring.shape[0]
    head = meta[0] % W
    w1 = params[0]
    w2 = params[1]
    w3 = params[2]
    norm = params[3]
    s = params[4]
    thr = params[5]
    for c in range(n_cells):
        z1 = window_push_z(ring, srt, count, head, 0, c, d1[c], min_periods)
        z2 = window_push_z(ring, srt, count, head, 1, c, d2[c], min_periods)
        z3 = window_push_z(ring, srt, count, head, 2, c, d3[c], min_periods)
        if math.isnan(z1) or math.isnan(z2) or math.isnan(z3):
            score[c] = np.nan
            state[c] = 0
            continue
        v = (w1 * math.tanh(z1 / s) + w2 * math.tanh(z2 / s) + w3 * math.tanh(z3 / s)) / norm
        score[c] = v
        if v > thr:
            state[c] = 1
        elif v < -thr:
            state[c] = -1
        else:
            state[c] = 0
    meta[0] += 1


@njit(cache=True)
def spectrum_run(d1, d2, d3, ring, srt, count, meta, params, min_periods, score, state):
    """Batch: ``spectrum_update`` on every row of (n_bins, n_cells) inputs, in order."""
    for t in range(d1.shape[0]):
        spectrum_update(
            d1[t], d2[t], d3[t], ring, srt, count, meta, params, min_periods, score[t], state[t]
        )
