"""Numba kernels of the SpectrumScorer: robust z-score over a sorted ring window + tanh blend.

Kernels only; the formulas are in ``docs/scoring.md``. A scorer's whole state is two flat
buffers, so a live update passes seven arguments (numba's dispatch costs ~50 ns per
argument): ``fstate`` float64 and ``istate`` int64, laid out by ``state_layout`` and viewed
by ``state_views``:

- ``ring``  float64 (W, 3, n_cells): the last W inputs of window (j, c) in arrival order,
  slot ``n_seen % W`` (``ring_value``: a missing, non-finite input is stored as NaN); one
  bin's slots are one contiguous row, read in order by ``spectrum_update``.
- ``srt``   float64 (3, n_cells, Wb), Wb = W rounded up to whole ``BLOCK``s: the finite
  values of each window sorted ascending in ``srt[j, c, :count[j, c]]``, +inf after them.
  Each window is contiguous, so it stays in L1 while ``zscore_run`` walks its bins.
- ``piv``   float64 (3, n_cells, P >= Wb / BLOCK, a multiple of 16):
  ``piv[j, c, k] = srt[j, c, k * BLOCK]``, +inf past the last block.
- ``params`` float64 (6,): w1, w2, w3, sum(|w|), tanh_scale, threshold_neutral.
- ``count`` int64 (3, n_cells): number of finite values in each window.
- ``split`` int64 (3, n_cells): where the last MAD selection of each window ended (a hint
  only: the MAD does not depend on it, see ``sorted_mad_near``).
- ``meta``  int64 (8,): n_seen (bins seen so far), W, Wb, P, min_periods, n_cells.
"""

from __future__ import annotations

import math

import numpy as np
from numba import int64, njit, types, uint64

from spymaster_shared.borrow import borrow
from spymaster_shared.scoring.tanh import tanh

MAD_SCALE = 1.4826  # MAD -> sigma for a normal distribution
BLOCK = 16  # values per block of a sorted window (see window_ranks)
META = 8  # int64 header of istate (see the module docstring)
N_PARAMS = 6


def state_layout(W: int, n_cells: int) -> tuple[int, int, int, int]:
    """(Wb, P, len(fstate), len(istate)) for a window of W bins over n_cells cells."""
    n_blocks = -(-W // BLOCK)
    Wb, P = n_blocks * BLOCK, -(-n_blocks // 16) * 16
    return Wb, P, 3 * n_cells * (W + Wb + P) + N_PARAMS, META + 6 * n_cells


@njit(cache=True, inline="always", error_model="numpy")
def state_views(fstate, istate):
    """(ring, srt, piv, params, count, split, meta): views of the two state buffers."""
    W, Wb, P, C = istate[1], istate[2], istate[3], istate[5]
    e1 = W * 3 * C
    e2 = e1 + 3 * C * Wb
    e3 = e2 + 3 * C * P
    ring = fstate[:e1].reshape((W, 3, C))
    srt = fstate[e1:e2].reshape((3, C, Wb))
    piv = fstate[e2:e3].reshape((3, C, P))
    params = fstate[e3 : e3 + N_PARAMS]
    count = istate[META : META + 3 * C].reshape((3, C))
    split = istate[META + 3 * C : META + 6 * C].reshape((3, C))
    return ring, srt, piv, params, count, split, istate[:META]


@njit(cache=True, inline="always", error_model="numpy")
def window_ranks(a, piv, old, new):
    """Ranks in a sorted window: (#{a_i < old}, #{a_i <= new}), by counting in two levels.

    ``a`` holds the sorted values then +inf up to a multiple of ``BLOCK``; ``piv[k]`` is
    ``a[k * BLOCK]`` (+inf past the end). Counting the pivots below a value finds its block,
    counting inside that block finds its rank: two short branch-free passes that LLVM
    vectorises (a binary search's compare-and-move becomes mispredicted branches on x86).
    """
    mo = uint64(0)
    mn = uint64(0)
    for k in range(uint64(piv.shape[0])):
        mo += uint64(piv[k] < old)
        mn += uint64(piv[k] <= new)
    one = uint64(1)
    bo = (max(mo, one) - one) * uint64(BLOCK)
    bn = (max(mn, one) - one) * uint64(BLOCK)
    # BLOCK as a trip count LLVM cannot fold (P // P == 1 at run time): it then vectorises
    # the loop, where a constant 16 is unrolled into 32 scalar compares first (~10 % of a
    # live update)
    blk = uint64(BLOCK) * (uint64(piv.shape[0]) // max(uint64(piv.shape[0]), one))
    po = bo
    pn = bn
    for i in range(blk):
        po += uint64(a[bo + i] < old)
        pn += uint64(a[bn + i] <= new)
    return int64(po), int64(pn)


@njit(cache=True, inline="always", error_model="numpy")
def _move(a, lo, hi, up):
    """``up``: a[lo:hi] = a[lo + 1:hi + 1]; else a[lo + 1:hi + 1] = a[lo:hi]. One loop for
    both directions (the direction only sets the addresses), so no branch on it."""
    n = hi - lo
    if n < 8:
        if up:
            for i in range(lo, hi):
                a[i] = a[i + 1]
        else:
            for k in range(n):
                a[hi - k] = a[hi - k - 1]
        return
    one = uint64(1)
    d = uint64(up) * uint64(2) - one  # +1 or -1 (wrapping): where each value comes from
    step = d * uint64(8)
    b = uint64(lo) if up else uint64(hi - 7)  # first chunk, then one chunk per step
    f = uint64(hi - 8) if up else uint64(lo + 1)  # last chunk: read first, written last
    g = f + d
    t0, t1, t2, t3 = a[g], a[g + one], a[g + uint64(2)], a[g + uint64(3)]
    t4, t5, t6, t7 = a[g + uint64(4)], a[g + uint64(5)], a[g + uint64(6)], a[g + uint64(7)]
    for _ in range(n >> 3):
        r = b + d
        u0, u1, u2, u3 = a[r], a[r + one], a[r + uint64(2)], a[r + uint64(3)]
        u4, u5, u6, u7 = a[r + uint64(4)], a[r + uint64(5)], a[r + uint64(6)], a[r + uint64(7)]
        a[b], a[b + one], a[b + uint64(2)], a[b + uint64(3)] = u0, u1, u2, u3
        a[b + uint64(4)], a[b + uint64(5)], a[b + uint64(6)], a[b + uint64(7)] = u4, u5, u6, u7
        b += step
    a[f], a[f + one], a[f + uint64(2)], a[f + uint64(3)] = t0, t1, t2, t3
    a[f + uint64(4)], a[f + uint64(5)], a[f + uint64(6)], a[f + uint64(7)] = t4, t5, t6, t7


@njit(cache=True, inline="always", error_model="numpy")
def _refresh_pivots(a, piv):
    """piv[k] = a[k * BLOCK] for every block of the window: a fixed-count loop is cheaper
    than refreshing only the blocks a move touched (whose count mispredicts)."""
    for k in range(uint64(a.shape[0]) // uint64(BLOCK)):
        piv[k] = a[k * uint64(BLOCK)]


@njit(cache=True, inline="always", error_model="numpy")
def sorted_replace(a, piv, n, old, new, old_ok, new_ok):
    """Replace ``old`` by ``new`` in the sorted window ``a[:n]``; returns the new length.

    ``old_ok``/``new_ok`` say whether ``old`` leaves / ``new`` enters the window (a missing
    value does neither). With po = #{a < old} (``a[po] == old``) and pn = #{a <= new}, the
    values between the two ranks move by one slot (a vectorised copy) and the pivots of the
    blocks touched are refreshed; ``a[n:]`` stays +inf. No allocation. The sorted content is
    unique whatever the order of ties, so it does not depend on how the ranks are found.
    Values are ring values (``ring_value``): finite when ``*_ok``, so +inf never enters.
    """
    if not (old_ok or new_ok):
        return n
    # a missing old value ranks as the first +inf slot (po == n); a missing new value enters
    # as +inf at the top (pn == n): one code path, one ranking, one copy each way
    o = old if old_ok else np.inf
    v = new if new_ok else np.inf
    po, pn = window_ranks(a, piv, o, new if new_ok else old)
    if not new_ok:
        pn = n
    up = v >= o
    pn -= int64(up)  # moving up: the last slot <= new once old is gone
    lo = po if up else pn
    hi = pn if up else po
    _move(a, lo, hi, up)
    a[pn] = v
    _refresh_pivots(a, piv)
    return n + int64(new_ok) - int64(old_ok)


@njit(cache=True, inline="always", error_model="numpy")
def sorted_median(a, n):
    """Median of the sorted prefix ``a[:n]`` (n >= 1): middle value, or mean of the two."""
    h = n >> 1
    if n & 1:
        return a[h]
    return (a[h - 1] + a[h]) / 2.0


@njit(cache=True, inline="always", error_model="numpy")
def _dev_left(a, h, med, i):
    # i-th smallest deviation among the lower half a[:h]: med - a[h-1-i] (non-decreasing in i)
    return med - a[h - 1 - i]


@njit(cache=True, inline="always", error_model="numpy")
def _dev_right(a, h, med, j):
    # j-th smallest deviation among the upper half a[h:]: a[h+j] - med (non-decreasing in j)
    return a[h + j] - med


@njit(cache=True, inline="always", error_model="numpy")
def _mad_at_split(a, n, med, i):
    """MAD from a split: the n//2 + 1 smallest deviations are i from the left, the rest right.

    The n//2-th smallest deviation (0-based) is the larger of the last taken on each side; for
    even n the MAD is its mean with the (n//2 - 1)-th, the larger of the second-to-last taken on
    each side and the smaller last-taken one (``np.median``'s mean of the two middle values).
    """
    one = uint64(1)
    h = uint64(n) >> one
    i = uint64(i)  # unsigned indices: no negative-index wraparound code
    j = h + one - i
    left = med - a[h - i] if i > 0 else -np.inf  # L(i - 1), the last taken on the left
    right = a[h + j - one] - med if j > 0 else -np.inf  # R(j - 1), on the right
    kth = max(left, right)
    if n & 1:
        return kth
    prev = min(left, right)  # -inf unless both sides have one
    if i > one:
        prev = max(prev, med - a[h + one - i])  # L(i - 2)
    if j > one:
        prev = max(prev, a[h + j - uint64(2)] - med)  # R(j - 2)
    return (prev + kth) / 2.0


@njit(cache=True, inline="always", error_model="numpy")
def sorted_mad_split(a, n, med):
    """Split of ``median(|a[:n] - med|)`` over a sorted prefix by bisection; returns i.

    With h = n // 2 the deviations of ``a[:h]`` (read backwards) and of ``a[h:]`` are two
    sorted sequences, so the median of their union is a k-th-of-two-sorted-arrays selection:
    take i from the left and k + 1 - i from the right (k = h), i found in O(log n).
    """
    h = n >> 1
    na = h
    nb = n - h
    k = n >> 1  # 0-based rank of the (upper) middle element of the union
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
    return i


@njit(cache=True, error_model="numpy")
def sorted_mad(a, n, med):
    """Median absolute deviation ``median(|a[:n] - med|)`` of a sorted prefix, exactly.

    O(log n) selection (``sorted_mad_split``) instead of a sort. ``|a_i - med|`` equals
    ``med - a_i`` or ``a_i - med`` bit for bit, so this is exactly
    ``np.median(np.abs(a - med))``.
    """
    return _mad_at_split(a, n, med, sorted_mad_split(a, n, med))


@njit(cache=True, inline="always", error_model="numpy")
def sorted_mad_near(a, n, med, i0):
    """``sorted_mad`` searching its split from ``i0`` (the previous bin's); returns (MAD, i).

    Between consecutive bins the median moves by at most one rank, so the split moves by a
    step or two: walk up while the next left deviation is below the last taken right one,
    then down while the last taken left one is above the next right one. When every
    deviation is finite both sequences are sorted, a valid split is where the walk stops,
    and the k-th smallest deviation is one value whichever valid split finds it: the same
    bits as ``sorted_mad``. Otherwise (values near the float64 limit, overflowing
    deviations) the bisection runs. Unsigned indices: no negative-index wraparound code.
    """
    if not (math.isfinite(med) and math.isfinite(a[n - 1] - a[0])):
        i = sorted_mad_split(a, n, med)
        return _mad_at_split(a, n, med, i), i
    one = uint64(1)
    un = uint64(n)
    h = un >> one
    lo = (un & one) ^ one  # fewest taken from the left (the right half has h or h + 1 values)
    i = min(max(uint64(max(i0, 0)), lo), h)  # taken from the left; h + 1 - i from the right
    # one branch-free step first (the split moves by at most one in ~94% of bins); reads
    # clamped into a[:n], the guards discard them
    h1 = max(h, one) - one  # h - 1, or 0 for a single value
    up = (i < h) & (a[h + h - i] - med > med - a[h1 - min(i, h1)])
    down = (i > lo) & (med - a[h - i] > a[min(h + h + one - i, un - one)] - med)
    i = i + uint64(up) - uint64(down)
    # more from the left while its next deviation L(i) is below the last taken right one
    while i < h and a[h + h - i] - med > med - a[h - one - i]:
        i += one
    # fewer while the last taken left one L(i - 1) is above the next right one
    while i > lo and med - a[h - i] > a[h + h + one - i] - med:
        i -= one
    return _mad_at_split(a, n, med, i), int64(i)


@njit(cache=True, inline="always", error_model="numpy")
def ring_value(x):
    """What the ring stores for an input: x + 0.0 (so -0.0 becomes +0.0), NaN if non-finite."""
    if math.isfinite(x):
        return x + 0.0
    return np.nan


@njit(cache=True, inline="always", error_model="numpy")
def window_push_z(a, piv, count, split, j, c, old, x, min_periods):
    """Move window (j, c) one bin on (``old`` leaves, ``x`` enters) and return x's robust z.

    ``old``/``x`` are ring values (``ring_value``; NaN = missing); ``a``/``piv`` are the
    window's sorted values and pivots. z = (x - median(window)) / (1.4826 * MAD(window)),
    window = the last W inputs including this one, finite values only. z = 0 when MAD == 0
    (constant window). NaN when ``x`` is missing or the window holds fewer than
    ``min_periods`` finite values.
    """
    new_ok = not math.isnan(x)
    n = sorted_replace(a, piv, count[j, c], old, x, not math.isnan(old), new_ok)
    count[j, c] = n
    if not new_ok or n < min_periods:
        return np.nan
    med = sorted_median(a, n)
    mad, i = sorted_mad_near(a, n, med, split[j, c])
    split[j, c] = i
    if mad == 0.0:
        return 0.0
    return (x - med) / (MAD_SCALE * mad)


@njit(cache=True, inline="always", error_model="numpy")
def blend(z1, z2, z3, params):
    """score = sum_i w_i tanh(z_i / s) / sum_i |w_i| in [-1, 1]; NaN when any z is NaN.

    ``tanh`` is ours (``scoring/tanh.py``): branch-free, so a loop of blends vectorises, and
    the same bits on every machine. NaN propagates through it and through the sum.
    """
    s = params[4]
    return blend_tanh(tanh(z1 / s), tanh(z2 / s), tanh(z3 / s), params)


@njit(cache=True, inline="always", error_model="numpy")
def blend_tanh(t1, t2, t3, params):
    """``blend`` from the three tanh(z_i / s): sum_i w_i t_i / sum_i |w_i|."""
    return (params[0] * t1 + params[1] * t2 + params[2] * t3) / params[3]


@njit(cache=True, inline="always", error_model="numpy")
def state_code(v, thr):
    """+1 if v > thr, -1 if v < -thr, else 0 (0 for NaN); branch-free."""
    return np.int8(int64(v > thr) - int64(v < -thr))


def _update_signatures() -> list:
    """spectrum_update's two compiled signatures: inputs writable, or all three read-only
    (columns decoded from Arrow are read-only views of the message)."""
    f64 = types.Array(types.float64, 1, "C")
    ro = types.Array(types.float64, 1, "C", readonly=True)
    rest = (f64, types.Array(types.int64, 1, "C"), f64, types.Array(types.int8, 1, "C"))
    return [types.int64(d, d, d, *rest) for d in (f64, ro)]


@njit(_update_signatures(), cache=True, error_model="numpy")
def spectrum_update(d1, d2, d3, fstate, istate, score, state):
    """One bin for all cells. d1, d2, d3: float64 (n_cells,) composite derivatives (per bin).

    Writes ``score`` (float64 (n_cells,), ``blend`` of the three z) and ``state`` (int8,
    ``state_code`` of the score with threshold_neutral). Returns 0, or k = 1..5 when
    argument k of (d1, d2, d3, score, state) does not hold n_cells values (nothing is
    changed then). Two compiled signatures (inputs writable or all read-only): other dtypes
    or layouts are a TypeError, not a new compilation in the middle of a live session.
    """
    C = istate[5]
    for k, m in enumerate((d1.shape[0], d2.shape[0], d3.shape[0], score.shape[0], state.shape[0])):
        if m != C:
            return k + 1
    # borrowed views: no atomic reference counting per helper call (spymaster_shared.borrow);
    # borrow the views, not the buffers (views of a borrowed buffer ran ~20 % slower)
    ring, srt, piv, params, count, split, meta = state_views(fstate, istate)
    ring, srt, piv, params = borrow(ring), borrow(srt), borrow(piv), borrow(params)
    count, split, meta = borrow(count), borrow(split), borrow(meta)
    d1, d2, d3, score, state = borrow(d1), borrow(d2), borrow(d3), borrow(score), borrow(state)
    min_periods = meta[4]
    head = meta[0] % ring.shape[0]
    row = ring[head]
    n_cells = d1.shape[0]
    zc = np.empty((3, n_cells))  # never borrowed: it is this call's own array
    for j in range(3):  # windows in memory order: derivative, then cell
        dj = d1 if j == 0 else (d2 if j == 1 else d3)
        for c in range(n_cells):  # one call site: the inlined window step is compiled once
            x = ring_value(dj[c])
            zc[j, c] = window_push_z(
                srt[j, c], piv[j, c], count, split, j, c, row[j, c], x, min_periods
            )
            row[j, c] = x
    # the blend apart from the windows: a branch-free loop over cells that vectorises
    for c in range(n_cells):
        v = blend(zc[0, c], zc[1, c], zc[2, c], params)
        score[c] = v
        state[c] = state_code(v, params[5])
    meta[0] += 1
    return 0


@njit(cache=True, error_model="numpy")
def zscore_run(d1, d2, d3, fstate, istate, z):
    """Batch window part: writes z (float64 (n_bins, n_cells, 3)), the robust z of each
    derivative, for (n_bins, n_cells) inputs, continuing from the state.

    Window by window (cell by cell, then its three derivatives), each window's bins in
    order: windows are independent (own sorted values, own ring column, own count and
    split), so every window sees the same sequence of ``window_push_z`` steps as with
    ``spectrum_update`` bin by bin, while its values and its ring column (copied into a
    contiguous buffer) stay hot in cache.
    """
    ring, srt, piv, _, count, split, meta = state_views(fstate, istate)
    ring, srt, piv = borrow(ring), borrow(srt), borrow(piv)
    count, split, meta = borrow(count), borrow(split), borrow(meta)
    W = ring.shape[0]
    n0 = meta[0]
    min_periods = meta[4]
    local = np.empty((3, W))
    # never borrow `local`: a borrowed view does not keep its array alive (borrow.py)
    d1, d2, d3, z = borrow(d1), borrow(d2), borrow(d3), borrow(z)
    for c in range(d1.shape[1]):
        for j in range(3):
            for k in range(W):
                local[j, k] = ring[k, j, c]
        for j in range(3):  # a cell's windows are independent: each runs its bins in order
            a, p = srt[j, c], piv[j, c]
            dj = d1 if j == 0 else (d2 if j == 1 else d3)
            head = n0 % W
            for t in range(d1.shape[0]):
                x = ring_value(dj[t, c])
                z[t, c, j] = window_push_z(a, p, count, split, j, c, local[j, head], x, min_periods)
                local[j, head] = x
                head += 1
                if head == W:
                    head = 0
        for j in range(3):
            for k in range(W):
                ring[k, j, c] = local[j, k]
    meta[0] = n0 + d1.shape[0]


@njit(cache=True, error_model="numpy")
def blend_run(z, params, score, state):
    """Batch blend part: ``blend`` and ``state_code`` of every (bin, cell) of z
    (n_bins, n_cells, 3) into score (float64) and state (int8), each (n_bins, n_cells)."""
    n_cells = z.shape[1]
    tz = np.empty(3 * n_cells)  # one bin's tanh(z / s); never borrowed (this call's own)
    z, params, score, state = borrow(z), borrow(params), borrow(score), borrow(state)
    s = params[4]
    for t in range(z.shape[0]):
        # the tanh of a whole bin first (contiguous: the loop vectorises), then per cell
        # the same sum as ``blend``, so the bits are the live update's
        zt = z[t].reshape(3 * n_cells)
        for k in range(3 * n_cells):
            tz[k] = tanh(zt[k] / s)
        for c in range(n_cells):
            v = blend_tanh(tz[3 * c], tz[3 * c + 1], tz[3 * c + 2], params)
            score[t, c] = v
            state[t, c] = state_code(v, params[5])
