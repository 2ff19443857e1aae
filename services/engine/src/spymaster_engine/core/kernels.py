"""Numba kernels of the engine: order table, book, feature chain, bin close. Kernels only.

Units: prices are int64 in 1e-9 units; a *bucket* is ``price // bucket_price_int`` (floor);
a *slot* is ``bucket - anchor`` in ``[0, n_ticks)``; times are int64 ns of event time and
rates ``lam`` are in 1/s. Formulas and conventions: ``docs/engine.md``.
State slot numbers come from :mod:`spymaster_engine.core.layout`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from spymaster_engine.core.layout import (
    CF_BAND,
    CF_C1,
    CF_C2,
    CF_C3,
    CF_C4,
    CF_C5,
    CF_C6,
    CF_C7,
    CF_EPS,
    G_ADD,
    G_ASK,
    G_BID,
    G_FILL,
    G_PULL,
    HT_EMPTY,
    HT_TOMB,
    HV_INSTRUMENT,
    HV_PENDING_FILL,
    HV_PRICE,
    HV_SIDE,
    HV_SIZE,
    IP_BUCKET,
    IP_CAPTURE_START,
    IP_CELL_NS,
    IP_FIRST_SEQ,
    IP_MARGIN,
    IP_N_BINS,
    IP_RADIUS,
    MAX_PUBLISHERS,
    O_A0,
    O_ADD_MASS,
    O_COMPOSITE,
    O_D1,
    O_J0,
    O_PRESSURE,
    O_REST,
    O_V0,
    O_VACUUM,
    SC_ANCHOR,
    SC_ANCHORED,
    SC_BEST_ASK,
    SC_BEST_BID,
    SC_BIN_EVENTS,
    SC_CLOCK,
    SC_EVENT_ID,
    SC_EVENT_TIMED,
    SC_HAS_PREV_ASK,
    SC_HAS_PREV_BID,
    SC_HAS_SPOT,
    SC_HIST_POS,
    SC_HT_TOMB,
    SC_HT_USED,
    SC_IN_EVENT,
    SC_N_HIST,
    SC_OB_ASK,
    SC_OB_BID,
    SC_OB_HAS_ASK,
    SC_OB_HAS_BID,
    SC_OPEN_SEQ,
    SC_OUT_ASK,
    SC_OUT_BID,
    SC_OUT_CHANGES,
    SC_OUT_SCANNED,
    SC_PREV_ASK,
    SC_PREV_BID,
    SC_SEEN_VALID,
    SC_SPOT,
    SC_STARTED,
    ST_ADDS,
    ST_BAD_PRICES,
    ST_BAD_PUB,
    ST_BAD_SIDES,
    ST_BINS_CLOSED,
    ST_BINS_EMITTED,
    ST_CANCELS,
    ST_CLEARS,
    ST_CROSSED,
    ST_DUP_ADDS,
    ST_EVENTS,
    ST_FILL_MATCHED,
    ST_FILLS,
    ST_MODIFIES,
    ST_ORPHANS,
    ST_OUT_OF_RANGE,
    ST_REANCHORS,
    ST_RECORDS,
    ST_SNAPSHOTS,
    ST_TOB,
    ST_TRADES,
)
from spymaster_shared.borrow import borrow

UNDEF_PRICE = np.iinfo(np.int64).max
F_LAST = 128
F_TOB = 64
F_SNAPSHOT = 32
A_ADD = 65  # 'A'
A_CANCEL = 67  # 'C'
A_MODIFY = 77  # 'M'
A_CLEAR = 82  # 'R'
A_TRADE = 84  # 'T'
A_FILL = 70  # 'F'
S_ASK = 65  # 'A'
S_BID = 66  # 'B'
STOP_DONE = 0
STOP_OUTPUT_FULL = 1
STOP_TABLE_FULL = 2
SD_BID = 0  # depth column / side index
SD_ASK = 1

_H1 = np.uint64(0xFF51AFD7ED558CCD)
_H2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S48 = np.uint64(48)


# --------------------------------------------------------------------------------------
# order table: open addressing (linear probing) keyed by (publisher_id, order_id)
# --------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def ht_hash(pub: int, oid: np.uint64, mask: int) -> int:
    """Home slot of key (pub, oid): murmur3 fmix64 of ``oid XOR (pub << 48)``, AND ``mask``."""
    h = np.uint64(oid) ^ (np.uint64(pub) << _S48)
    h ^= h >> _S33
    h *= _H1
    h ^= h >> _S33
    h *= _H2
    h ^= h >> _S33
    return np.int64(h & np.uint64(mask))


@njit(cache=True, inline="always")
def ht_find(ht_pub: np.ndarray, ht_oid: np.ndarray, pub: int, oid: np.uint64) -> int:
    """Slot holding key (pub, oid), or -1. Probes from the home slot to the first empty slot."""
    mask = ht_pub.shape[0] - 1
    i = ht_hash(pub, oid, mask)
    while True:
        p = ht_pub[i]
        if p == HT_EMPTY:
            return -1
        if p == pub and ht_oid[i] == oid:
            return i
        i = (i + 1) & mask


@njit(cache=True, inline="always")
def ht_insert(ht_pub: np.ndarray, ht_oid: np.ndarray, sc: np.ndarray, pub: int, oid) -> int:
    """Slot for a new key (pub, oid) known to be absent: first empty or tombstone slot.

    A free slot exists: process_records stops for a rehash before the load passes 1/2.
    """
    mask = ht_pub.shape[0] - 1
    i = ht_hash(pub, oid, mask)
    while ht_pub[i] >= 0:
        i = (i + 1) & mask
    if ht_pub[i] == HT_TOMB:
        sc[SC_HT_TOMB] -= 1
    ht_pub[i] = pub
    ht_oid[i] = oid
    sc[SC_HT_USED] += 1
    return i


@njit(cache=True)
def ht_rehash(
    old_pub: np.ndarray,
    old_oid: np.ndarray,
    old_val: np.ndarray,
    new_pub: np.ndarray,
    new_oid: np.ndarray,
    new_val: np.ndarray,
) -> int:
    """Copy live entries into an empty (all ``HT_EMPTY``) power-of-two table; returns count."""
    mask = new_pub.shape[0] - 1
    n = 0
    for s in range(old_pub.shape[0]):
        if old_pub[s] >= 0:
            i = ht_hash(old_pub[s], old_oid[s], mask)
            while new_pub[i] != HT_EMPTY:
                i = (i + 1) & mask
            new_pub[i] = old_pub[s]
            new_oid[i] = old_oid[s]
            for c in range(old_val.shape[1]):
                new_val[i, c] = old_val[s, c]
            n += 1
    return n


@njit(cache=True)
def ht_purge(ht_pub: np.ndarray, ht_oid: np.ndarray, ht_val: np.ndarray) -> None:
    """Rebuild the table in place without tombstones (same capacity, same live entries)."""
    live = np.nonzero(ht_pub >= 0)[0]
    pub = ht_pub[live].copy()
    oid = ht_oid[live].copy()
    val = ht_val[live].copy()
    ht_pub[:] = HT_EMPTY
    mask = ht_pub.shape[0] - 1
    for j in range(live.shape[0]):
        i = ht_hash(pub[j], oid[j], mask)
        while ht_pub[i] != HT_EMPTY:
            i = (i + 1) & mask
        ht_pub[i] = pub[j]
        ht_oid[i] = oid[j]
        for c in range(val.shape[1]):
            ht_val[i, c] = val[j, c]


# --------------------------------------------------------------------------------------
# the derivative chain in modal coordinates
# --------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def chain_propagate(y: np.ndarray, t_last: np.ndarray, s: int, t: int, lam: np.ndarray) -> None:
    """Advance tick ``s`` from ``t_last[s]`` to ``t`` (ns): ``y[s,g,m] *= exp(lam_m dt)``.

    ``dt = (t - t_last) * 1e-9`` s. Mass groups (add, pull, fill) use all four rates
    ``lam = (-1/tau_q, -1/tau_v, -1/tau_a, -1/tau_j)``; depth groups (bid, ask) have rate 0
    in their q mode (no decay), so only v, a, j modes decay.
    """
    dt_ns = t - t_last[s]
    if dt_ns <= 0:
        return
    dt = dt_ns * 1e-9
    eq = math.exp(lam[0] * dt)
    ev = math.exp(lam[1] * dt)
    ea = math.exp(lam[2] * dt)
    ej = math.exp(lam[3] * dt)
    for g in range(3):
        y[s, g, 0] *= eq
        y[s, g, 1] *= ev
        y[s, g, 2] *= ea
        y[s, g, 3] *= ej
    for g in range(3, 5):
        y[s, g, 1] *= ev
        y[s, g, 2] *= ea
        y[s, g, 3] *= ej
    t_last[s] = t


@njit(cache=True, inline="always")
def chain_impulse(y: np.ndarray, s: int, g: int, dq: float, b: np.ndarray) -> None:
    """Jump of quantity ``dq`` in group ``g`` of tick ``s``: ``y[s,g,:] += dq * b``.

    ``b = V^-1 (1, 1/tau_v, 1/(tau_v tau_a), 1/(tau_v tau_a tau_j))`` is the modal image of
    the impulse; ``dq`` is in size units (contracts/shares).
    """
    for m in range(4):
        y[s, g, m] += dq * b[m]


@njit(cache=True, inline="always")
def chain_evaluate(
    y: np.ndarray,
    t_last: np.ndarray,
    s: int,
    t: int,
    lam: np.ndarray,
    v_mass: np.ndarray,
    v_depth: np.ndarray,
    x: np.ndarray,
) -> None:
    """Read tick ``s`` at time ``t`` >= t_last[s] without mutating it: ``x[g] = V_g (e * y[s,g])``.

    ``e_m = exp(lam_m dt)`` (``e_0 = 1`` for depth groups). ``x[g] = (q, v, a, j)`` in size
    units and size units per s, per s^2, per s^3.
    """
    dt = (t - t_last[s]) * 1e-9
    eq = math.exp(lam[0] * dt)
    ev = math.exp(lam[1] * dt)
    ea = math.exp(lam[2] * dt)
    ej = math.exp(lam[3] * dt)
    for g in range(5):
        if g < 3:
            z0 = y[s, g, 0] * eq
            vm = v_mass
        else:
            z0 = y[s, g, 0]
            vm = v_depth
        z1 = y[s, g, 1] * ev
        z2 = y[s, g, 2] * ea
        z3 = y[s, g, 3] * ej
        x[g, 0] = vm[0, 0] * z0
        x[g, 1] = vm[1, 0] * z0 + vm[1, 1] * z1
        x[g, 2] = vm[2, 0] * z0 + vm[2, 1] * z1 + vm[2, 2] * z2
        x[g, 3] = vm[3, 0] * z0 + vm[3, 1] * z1 + vm[3, 2] * z2 + vm[3, 3] * z3


@njit(cache=True, inline="always")
def chain_evaluate_va(
    y: np.ndarray,
    t_last: np.ndarray,
    s: int,
    t: int,
    lam: np.ndarray,
    v_mass: np.ndarray,
    v_depth: np.ndarray,
    x: np.ndarray,
) -> None:
    """:func:`chain_evaluate` of ``v`` and ``a`` only: ``x[g, 1]``, ``x[g, 2]`` (the rest
    of ``x`` is left as it was). The composite needs no more (warmup bins); the same
    expressions give the same values, with one ``exp`` less.
    """
    dt = (t - t_last[s]) * 1e-9
    eq = math.exp(lam[0] * dt)
    ev = math.exp(lam[1] * dt)
    ea = math.exp(lam[2] * dt)
    for g in range(5):
        if g < 3:
            z0 = y[s, g, 0] * eq
            vm = v_mass
        else:
            z0 = y[s, g, 0]
            vm = v_depth
        z1 = y[s, g, 1] * ev
        z2 = y[s, g, 2] * ea
        x[g, 1] = vm[1, 0] * z0 + vm[1, 1] * z1
        x[g, 2] = vm[2, 0] * z0 + vm[2, 1] * z1 + vm[2, 2] * z2


@njit(cache=True, inline="always")
def force_composite(x: np.ndarray, coef: np.ndarray) -> tuple[float, float, float]:
    """Pressure, vacuum and composite of one cell from its chain values ``x[g, (q,v,a,j)]``.

    P = c1 v_add + c2 max(v_rest, 0) + c3 max(a_add, 0);
    V = c4 v_pull + c5 v_fill + c6 max(-v_rest, 0) + c7 max(a_pull, 0);
    composite = (P - V) / (|P| + |V| + eps), with v_rest = v_bid + v_ask.
    """
    v_rest = x[G_BID, 1] + x[G_ASK, 1]
    p = (
        coef[CF_C1] * x[G_ADD, 1]
        + coef[CF_C2] * max(v_rest, 0.0)
        + coef[CF_C3] * max(x[G_ADD, 2], 0.0)
    )
    v = (
        coef[CF_C4] * x[G_PULL, 1]
        + coef[CF_C5] * x[G_FILL, 1]
        + coef[CF_C6] * max(-v_rest, 0.0)
        + coef[CF_C7] * max(x[G_PULL, 2], 0.0)
    )
    return p, v, (p - v) / (abs(p) + abs(v) + coef[CF_EPS])


@njit(cache=True)
def spectrum_update(
    comp: np.ndarray,
    hist: np.ndarray,
    sums: np.ndarray,
    prev: np.ndarray,
    windows: np.ndarray,
    weights: np.ndarray,
    n_hist: int,
    pos: int,
    out: np.ndarray,
) -> None:
    """Push one bin's composite row ``comp[r]`` and write d1, d2, d3 of the smoothed S.

    mean_w[r] = mean of the last min(w, n_hist+1) composites of row r (this bin included);
    S = sum_w weight_w mean_w / sum_w weight_w; d1 = S - S_prev, d2 = d1 - d1_prev,
    d3 = d2 - d2_prev (previous values start at 0). ``hist`` is a ring of max(windows) rows
    (next write row ``pos``), ``sums[w, r]`` the running window sums, ``prev = (S, d1, d2)``;
    ``out[0..2, r] = (d1, d2, d3)``.
    """
    depth = hist.shape[0]
    rows = comp.shape[0]
    wsum = 0.0
    for wi in range(windows.shape[0]):
        wsum += weights[wi]
    for r in range(rows):
        out[0, r] = 0.0
    for wi in range(windows.shape[0]):
        w = windows[wi]
        cnt = n_hist + 1 if n_hist + 1 < w else w
        old = (pos - w) % depth
        full = n_hist >= w
        for r in range(rows):
            sums[wi, r] += comp[r]
            if full:
                sums[wi, r] -= hist[old, r]
            out[0, r] += weights[wi] * (sums[wi, r] / cnt)
    for r in range(rows):
        smooth = out[0, r] / wsum
        d1 = smooth - prev[0, r]
        d2 = d1 - prev[1, r]
        d3 = d2 - prev[2, r]
        prev[0, r] = smooth
        prev[1, r] = d1
        prev[2, r] = d2
        out[0, r] = d1
        out[1, r] = d2
        out[2, r] = d3
        hist[pos, r] = comp[r]


@njit(cache=True, inline="always")
def state5(k: int, composite: float, band: float) -> int:
    """State code of a cell: |c| < band -> 0; k >= 0 (at/above spot): c < 0 -> 2 bull_vacuum,
    c > 0 -> -1 bear_pressure; k < 0 (below): c > 0 -> 1 bull_pressure, c < 0 -> -2 bear_vacuum.
    """
    if abs(composite) < band or composite == 0.0:
        return 0
    if k >= 0:
        return 2 if composite < 0.0 else -1
    return 1 if composite > 0.0 else -2


# --------------------------------------------------------------------------------------
# book
# --------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def resolve_best(sc: np.ndarray, depth: np.ndarray) -> None:
    """Tighten the lazy best slots: best bid = highest slot with bid depth > 0 at or below
    SC_BEST_BID (-1 if none); best ask = lowest slot with ask depth > 0 at or above
    SC_BEST_ASK (n_ticks if none). Adds only ever move the bounds outward, so this is exact.
    """
    n = depth.shape[0]
    b = sc[SC_BEST_BID]
    while b >= 0 and depth[b, SD_BID] <= 0:
        b -= 1
    sc[SC_BEST_BID] = b
    a = sc[SC_BEST_ASK]
    while a < n and depth[a, SD_ASK] <= 0:
        a += 1
    sc[SC_BEST_ASK] = a


@njit(cache=True, inline="always")
def book_change(
    bucket: int,
    sd: int,
    delta: int,
    flow: bool,
    sc: np.ndarray,
    stats: np.ndarray,
    depth: np.ndarray,
    y: np.ndarray,
    t_last: np.ndarray,
    last_ev: np.ndarray,
    lam: np.ndarray,
    b_depth: np.ndarray,
) -> None:
    """Resting size at absolute ``bucket`` on side ``sd`` changes by ``delta`` (size units).

    In the array: depth[slot, sd] += delta, best bounds widen on adds, last_ev[slot] = event
    id and, when ``flow``, a depth impulse of ``delta`` at the clock. Outside: counted in
    ``out_of_range`` and in the outside-quantity totals used for re-anchoring.
    """
    s = bucket - sc[SC_ANCHOR]
    if s < 0 or s >= depth.shape[0]:
        stats[ST_OUT_OF_RANGE] += 1
        sc[SC_OUT_BID + sd] += delta
        sc[SC_OUT_CHANGES] += 1
        return
    depth[s, sd] += delta
    if delta > 0:
        if sd == SD_BID:
            if s > sc[SC_BEST_BID]:
                sc[SC_BEST_BID] = s
        elif s < sc[SC_BEST_ASK]:
            sc[SC_BEST_ASK] = s
    last_ev[s] = sc[SC_EVENT_ID]
    if flow:
        chain_propagate(y, t_last, s, sc[SC_CLOCK], lam)
        chain_impulse(y, s, G_BID + sd, float(delta), b_depth)


@njit(cache=True, inline="always")
def mass_flow(
    bucket: int,
    g: int,
    qty: int,
    sc: np.ndarray,
    y: np.ndarray,
    t_last: np.ndarray,
    last_ev: np.ndarray,
    lam: np.ndarray,
    b_mass: np.ndarray,
) -> None:
    """Impulse of ``qty`` (size units) into mass group ``g`` (add/pull/fill) at ``bucket``."""
    s = bucket - sc[SC_ANCHOR]
    if s < 0 or s >= y.shape[0] or qty == 0:
        return
    chain_propagate(y, t_last, s, sc[SC_CLOCK], lam)
    chain_impulse(y, s, g, float(qty), b_mass)
    last_ev[s] = sc[SC_EVENT_ID]


@njit(cache=True)
def reanchor(
    center: int,
    sc: np.ndarray,
    stats: np.ndarray,
    ip: np.ndarray,
    ht_pub: np.ndarray,
    ht_val: np.ndarray,
    tob: np.ndarray,
    depth: np.ndarray,
    y: np.ndarray,
    t_last: np.ndarray,
    last_ev: np.ndarray,
) -> None:
    """Move the tick array so absolute bucket ``center`` sits at slot n//2.

    Per-tick feature state follows its absolute price (shifted by d = new - old anchor);
    ticks entering the array start from zero state at the clock. Depth and the outside
    totals are rebuilt from the order table and F_TOB levels (no impulses).
    """
    n = depth.shape[0]
    new_anchor = center - n // 2
    d = new_anchor - sc[SC_ANCHOR]
    if d == 0:
        return
    clock = sc[SC_CLOCK]
    if d > 0:
        rng = range(n)
    else:
        rng = range(n - 1, -1, -1)
    for s in rng:
        src = s + d
        if 0 <= src < n:
            y[s] = y[src]
            t_last[s] = t_last[src]
            last_ev[s] = last_ev[src]
        else:
            y[s] = 0.0
            t_last[s] = clock
            last_ev[s] = 0
    sc[SC_ANCHOR] = new_anchor
    rebuild_depth(sc, ip, ht_pub, ht_val, tob, depth)
    stats[ST_REANCHORS] += 1


@njit(cache=True)
def rebuild_depth(
    sc: np.ndarray,
    ip: np.ndarray,
    ht_pub: np.ndarray,
    ht_val: np.ndarray,
    tob: np.ndarray,
    depth: np.ndarray,
) -> None:
    """depth[slot, side] = sum of live order sizes (and F_TOB levels) per slot; outside
    quantities summed into SC_OUT_BID/ASK; best slots recomputed."""
    n = depth.shape[0]
    bucket = ip[IP_BUCKET]
    anchor = sc[SC_ANCHOR]
    depth[:] = 0
    sc[SC_OUT_BID] = 0
    sc[SC_OUT_ASK] = 0
    sc[SC_OUT_CHANGES] += 1
    for i in range(ht_pub.shape[0]):
        if ht_pub[i] >= 0:
            s = ht_val[i, HV_PRICE] // bucket - anchor
            sd = ht_val[i, HV_SIDE]
            if 0 <= s < n:
                depth[s, sd] += ht_val[i, HV_SIZE]
            else:
                sc[SC_OUT_BID + sd] += ht_val[i, HV_SIZE]
    for p in range(tob.shape[0]):
        for sd in range(2):
            if tob[p, sd, 1] > 0:
                s = tob[p, sd, 0] // bucket - anchor
                if 0 <= s < n:
                    depth[s, sd] += tob[p, sd, 1]
                else:
                    sc[SC_OUT_BID + sd] += tob[p, sd, 1]
    sc[SC_BEST_BID] = n - 1
    sc[SC_BEST_ASK] = 0
    resolve_best(sc, depth)


@njit(cache=True)
def outside_best_buckets(
    sc: np.ndarray, ip: np.ndarray, ht_pub: np.ndarray, ht_val: np.ndarray, tob: np.ndarray, n: int
) -> tuple[bool, int, bool, int]:
    """Best bid / ask absolute buckets among live orders and F_TOB levels outside the array."""
    bucket = ip[IP_BUCKET]
    anchor = sc[SC_ANCHOR]
    has_b = False
    has_a = False
    bb = 0
    ba = 0
    for i in range(ht_pub.shape[0] + 2 * tob.shape[0]):
        if i < ht_pub.shape[0]:
            if ht_pub[i] < 0 or ht_val[i, HV_SIZE] <= 0:
                continue
            b = ht_val[i, HV_PRICE] // bucket
            sd = ht_val[i, HV_SIDE]
        else:
            p = (i - ht_pub.shape[0]) // 2
            sd = (i - ht_pub.shape[0]) % 2
            if tob[p, sd, 1] <= 0:
                continue
            b = tob[p, sd, 0] // bucket
        if 0 <= b - anchor < n:
            continue
        if sd == SD_BID:
            if not has_b or b > bb:
                bb = b
                has_b = True
        elif not has_a or b < ba:
            ba = b
            has_a = True
    return has_b, bb, has_a, ba


@njit(cache=True, inline="always")
def true_best(
    sc: np.ndarray,
    ip: np.ndarray,
    ht_pub: np.ndarray,
    ht_val: np.ndarray,
    tob: np.ndarray,
    depth: np.ndarray,
) -> tuple[bool, int, bool, int]:
    """Consolidated best bid / ask absolute buckets over the whole book.

    The array's lazy bests, combined (max for bids, min for asks) with the best prices of
    orders outside the array when there are any; those are re-scanned from the order table
    only when an outside order changed since the last scan (SC_OUT_CHANGES).
    """
    n = depth.shape[0]
    resolve_best(sc, depth)
    anchor = sc[SC_ANCHOR]
    hb = sc[SC_BEST_BID] >= 0
    bb = anchor + sc[SC_BEST_BID]
    ha = sc[SC_BEST_ASK] < n
    ba = anchor + sc[SC_BEST_ASK]
    if sc[SC_OUT_BID] > 0 or sc[SC_OUT_ASK] > 0:
        if sc[SC_OUT_SCANNED] != sc[SC_OUT_CHANGES]:
            ohb, obb, oha, oba = outside_best_buckets(sc, ip, ht_pub, ht_val, tob, n)
            sc[SC_OB_HAS_BID] = 1 if ohb else 0
            sc[SC_OB_BID] = obb
            sc[SC_OB_HAS_ASK] = 1 if oha else 0
            sc[SC_OB_ASK] = oba
            sc[SC_OUT_SCANNED] = sc[SC_OUT_CHANGES]
        if sc[SC_OUT_BID] > 0 and sc[SC_OB_HAS_BID] == 1 and (not hb or sc[SC_OB_BID] > bb):
            hb = True
            bb = sc[SC_OB_BID]
        if sc[SC_OUT_ASK] > 0 and sc[SC_OB_HAS_ASK] == 1 and (not ha or sc[SC_OB_ASK] < ba):
            ha = True
            ba = sc[SC_OB_ASK]
    return hb, bb, ha, ba


# --------------------------------------------------------------------------------------
# the main kernel
# --------------------------------------------------------------------------------------


@njit(cache=True)
def close_bin(
    n_out: int,
    sc: np.ndarray,
    stats: np.ndarray,
    ip: np.ndarray,
    coef: np.ndarray,
    lam: np.ndarray,
    v_mass: np.ndarray,
    v_depth: np.ndarray,
    windows: np.ndarray,
    weights: np.ndarray,
    ht_pub: np.ndarray,
    ht_val: np.ndarray,
    tob: np.ndarray,
    depth: np.ndarray,
    y: np.ndarray,
    t_last: np.ndarray,
    last_ev: np.ndarray,
    spec_hist: np.ndarray,
    spec_sums: np.ndarray,
    spec_prev: np.ndarray,
    x: np.ndarray,
    row: np.ndarray,
    dd: np.ndarray,
    out_f8: np.ndarray,
    out_i4: np.ndarray,
    out_i1: np.ndarray,
    out_i8: np.ndarray,
    out_bin_i8: np.ndarray,
    out_bin_f8: np.ndarray,
    out_bin_b: np.ndarray,
) -> int:
    """Close the open bin [start, end) at ``end`` and, if bin_seq >= 0, write it to row
    ``n_out`` of the outputs. Returns the new ``n_out``.

    Spot = round-half-up((best_bid + best_ask) / 2) in buckets when both sides exist and
    bid <= ask (book_valid), else the previous spot. Row r is k = r - R, absolute bucket
    spot + k. Cell values: chain read at ``end``; depths from the book; composite into the
    spectrum; labels from best moves since the previous bin. ``x`` (5, 4), ``row``
    (rows, n_f8_columns) and ``dd`` (3, rows) are scratch.
    """
    n = depth.shape[0]
    radius = ip[IP_RADIUS]
    rows = 2 * radius + 1
    bucket = ip[IP_BUCKET]
    seq = sc[SC_OPEN_SEQ]
    start = ip[IP_CAPTURE_START] + seq * ip[IP_CELL_NS]
    end = start + ip[IP_CELL_NS]
    emit = seq >= 0
    has_bid, bid, has_ask, ask = true_best(sc, ip, ht_pub, ht_val, tob, depth)
    anchor = sc[SC_ANCHOR]
    valid = has_bid and has_ask and bid <= ask
    if valid:
        sc[SC_SPOT] = (bid + ask + 1) // 2
        sc[SC_HAS_SPOT] = 1
    has_spot = sc[SC_HAS_SPOT] == 1
    spot = sc[SC_SPOT]

    # labels (per bin, broadcast to every row)
    ask_move = 0
    bid_move = 0
    if has_ask and sc[SC_HAS_PREV_ASK] == 1:
        ask_move = ask - sc[SC_PREV_ASK]
    if has_bid and sc[SC_HAS_PREV_BID] == 1:
        bid_move = bid - sc[SC_PREV_BID]
    ask_sign = (ask_move > 0) - (ask_move < 0)
    bid_sign = (bid_move > 0) - (bid_move < 0)
    micro = (ask_sign + 1) * 3 + (bid_sign + 1)
    chase_up = 1 if (ask_move > 0 and bid_move > 0) else 0
    chase_down = 1 if (ask_move < 0 and bid_move < 0) else 0

    # per-row features into the row-major scratch (one cache-friendly pass per row); a
    # warmup bin is not emitted: only its composite (for the spectrum history) is needed
    n_cols = row.shape[1]
    for r in range(rows):
        s = spot - radius + r - anchor
        if not has_spot or s < 0 or s >= n:
            for c in range(n_cols):
                row[r, c] = 0.0
            continue
        if t_last[s] == 0:  # never touched: zero chain state
            x[:] = 0.0
        elif emit:
            chain_evaluate(y, t_last, s, end, lam, v_mass, v_depth, x)
        else:
            chain_evaluate_va(y, t_last, s, end, lam, v_mass, v_depth, x)
        p, v, cmp = force_composite(x, coef)
        row[r, O_COMPOSITE] = cmp
        if not emit:
            continue
        bd = float(depth[s, SD_BID])
        ad = float(depth[s, SD_ASK])
        row[r, O_PRESSURE] = p
        row[r, O_VACUUM] = v
        row[r, O_ADD_MASS] = x[G_ADD, 0]
        row[r, O_ADD_MASS + 1] = x[G_PULL, 0]
        row[r, O_ADD_MASS + 2] = x[G_FILL, 0]
        row[r, O_REST] = bd + ad
        row[r, O_REST + 1] = bd
        row[r, O_REST + 2] = ad
        for m in range(1, 4):
            o = O_V0 if m == 1 else (O_A0 if m == 2 else O_J0)
            row[r, o] = x[G_ADD, m]
            row[r, o + 1] = x[G_PULL, m]
            row[r, o + 2] = x[G_FILL, m]
            row[r, o + 3] = x[G_BID, m] + x[G_ASK, m]
            row[r, o + 4] = x[G_BID, m]
            row[r, o + 5] = x[G_ASK, m]

    comp = row[:rows, O_COMPOSITE]
    spectrum_update(
        comp, spec_hist, spec_sums, spec_prev, windows, weights,
        sc[SC_N_HIST], sc[SC_HIST_POS], dd,
    )  # fmt: skip
    sc[SC_N_HIST] += 1
    sc[SC_HIST_POS] = (sc[SC_HIST_POS] + 1) % spec_hist.shape[0]

    if emit:
        for r in range(rows):
            row[r, O_D1] = dd[0, r]
            row[r, O_D1 + 1] = dd[1, r]
            row[r, O_D1 + 2] = dd[2, r]
        for c in range(n_cols):
            for r in range(rows):
                out_f8[c, n_out, r] = row[r, c]
        band = coef[CF_BAND]
        for r in range(rows):
            k = r - radius
            s = spot + k - anchor
            out_i8[0, n_out, r] = last_ev[s] if (has_spot and 0 <= s < n) else 0
            out_i4[0, n_out, r] = k
            out_i4[1, n_out, r] = ask_move
            out_i4[2, n_out, r] = bid_move
            out_i1[0, n_out, r] = ask_sign
            out_i1[1, n_out, r] = bid_sign
            out_i1[2, n_out, r] = micro
            out_i1[3, n_out, r] = state5(k, row[r, O_COMPOSITE], band)
            out_i1[4, n_out, r] = chase_up
            out_i1[5, n_out, r] = chase_down
        out_bin_i8[0, n_out] = end
        out_bin_i8[1, n_out] = seq
        out_bin_i8[2, n_out] = start
        out_bin_i8[3, n_out] = end
        out_bin_i8[4, n_out] = sc[SC_BIN_EVENTS]
        out_bin_i8[5, n_out] = sc[SC_EVENT_ID]
        out_bin_i8[6, n_out] = spot * bucket if has_spot else 0
        out_bin_i8[7, n_out] = bid * bucket if has_bid else 0
        out_bin_i8[8, n_out] = ask * bucket if has_ask else 0
        out_bin_f8[0, n_out] = (bid + ask) * bucket * 0.5e-9 if valid else 0.0
        out_bin_b[0, n_out] = valid
        stats[ST_BINS_EMITTED] += 1
        n_out += 1

    sc[SC_HAS_PREV_BID] = 1 if has_bid else 0
    sc[SC_PREV_BID] = bid
    sc[SC_HAS_PREV_ASK] = 1 if has_ask else 0
    sc[SC_PREV_ASK] = ask
    sc[SC_BIN_EVENTS] = 0
    sc[SC_OPEN_SEQ] = seq + 1
    stats[ST_BINS_CLOSED] += 1
    return n_out


@njit(cache=True, inline="always")
def push_change(chg: np.ndarray, k: int, bucket: int, sd: int, delta: int, g: int, qty: int) -> int:
    """Row ``k`` of a record's book changes: depth ``delta`` (size units) on side ``sd``
    (-1: none) and a mass impulse ``qty`` into group ``g``, at absolute ``bucket``."""
    chg[k, 0] = bucket
    chg[k, 1] = sd
    chg[k, 2] = delta
    chg[k, 3] = g
    chg[k, 4] = qty
    return k + 1


@njit(cache=True, inline="always")
def remove_qty(
    slot: int,
    r: int,
    k: int,
    chg: np.ndarray,
    sc: np.ndarray,
    stats: np.ndarray,
    ip: np.ndarray,
    ht_pub: np.ndarray,
    ht_val: np.ndarray,
) -> int:
    """Remove ``r`` (0 < r <= size) from the order in ``slot``: the part covered by the
    order's pending fill quantity (from preceding F records) is a fill, the rest a pull;
    the order is deleted when its size reaches 0. Pushes the book change as row ``k``."""
    bkt = ht_val[slot, HV_PRICE] // ip[IP_BUCKET]
    filled = min(r, ht_val[slot, HV_PENDING_FILL])
    ht_val[slot, HV_PENDING_FILL] -= filled
    stats[ST_FILL_MATCHED] += filled
    k = push_change(chg, k, bkt, ht_val[slot, HV_SIDE], -r, G_PULL, r - filled)
    ht_val[slot, HV_SIZE] -= r
    if ht_val[slot, HV_SIZE] <= 0:
        ht_pub[slot] = HT_TOMB
        sc[SC_HT_USED] -= 1
        sc[SC_HT_TOMB] += 1
    return k


@njit(cache=True)
def process_records(
    ts_event: np.ndarray,
    order_id: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    publisher_id: np.ndarray,
    instrument_id: np.ndarray,
    flags: np.ndarray,
    action: np.ndarray,
    side: np.ndarray,
    start: int,
    finish: bool,
    sc: np.ndarray,
    stats: np.ndarray,
    ip: np.ndarray,
    coef: np.ndarray,
    lam: np.ndarray,
    v_mass: np.ndarray,
    v_depth: np.ndarray,
    b_mass: np.ndarray,
    b_depth: np.ndarray,
    windows: np.ndarray,
    weights: np.ndarray,
    ht_pub: np.ndarray,
    ht_oid: np.ndarray,
    ht_val: np.ndarray,
    depth: np.ndarray,
    y: np.ndarray,
    t_last: np.ndarray,
    last_ev: np.ndarray,
    tob: np.ndarray,
    spec_hist: np.ndarray,
    spec_sums: np.ndarray,
    spec_prev: np.ndarray,
    out_start: int,
    out_f8: np.ndarray,
    out_i4: np.ndarray,
    out_i1: np.ndarray,
    out_i8: np.ndarray,
    out_bin_i8: np.ndarray,
    out_bin_f8: np.ndarray,
    out_bin_b: np.ndarray,
) -> tuple[int, int, int]:
    """Apply records ``start..`` in order, closing bins on event boundaries; returns
    (next record index, next output row, stop reason); bins are written from row
    ``out_start``. Stops early, before a record, when the
    output rows are full (STOP_OUTPUT_FULL) or the order table would pass load 1/2
    (STOP_TABLE_FULL); with ``finish`` closes every remaining bin of the capture window.

    Event time t = max(clock, ts_event of the event's first non-snapshot record) (ns); a
    bin [s, e) closes before that record when t >= e. Records before the feature start T0
    (first bin boundary >= warmup start) and F_SNAPSHOT records change the book only.
    """
    # helpers below take borrowed views: no atomic refcounting per helper call (borrow.py)
    sc = borrow(sc)
    stats = borrow(stats)
    ip = borrow(ip)
    coef = borrow(coef)
    lam = borrow(lam)
    v_mass = borrow(v_mass)
    v_depth = borrow(v_depth)
    b_mass = borrow(b_mass)
    b_depth = borrow(b_depth)
    windows = borrow(windows)
    weights = borrow(weights)
    ht_pub = borrow(ht_pub)
    ht_oid = borrow(ht_oid)
    ht_val = borrow(ht_val)
    depth = borrow(depth)
    y = borrow(y)
    t_last = borrow(t_last)
    last_ev = borrow(last_ev)
    tob = borrow(tob)
    spec_hist = borrow(spec_hist)
    spec_sums = borrow(spec_sums)
    spec_prev = borrow(spec_prev)
    out_f8 = borrow(out_f8)
    out_i4 = borrow(out_i4)
    out_i1 = borrow(out_i1)
    out_i8 = borrow(out_i8)
    out_bin_i8 = borrow(out_bin_i8)
    out_bin_f8 = borrow(out_bin_f8)
    out_bin_b = borrow(out_bin_b)
    n = depth.shape[0]
    n_rec = ts_event.shape[0]
    cw = ip[IP_CELL_NS]
    cap_start = ip[IP_CAPTURE_START]
    first_seq = ip[IP_FIRST_SEQ]
    n_bins = ip[IP_N_BINS]
    t0 = cap_start + first_seq * cw
    bucket = ip[IP_BUCKET]
    margin = ip[IP_MARGIN]
    n_cap = out_bin_i8.shape[1]
    n_out = out_start
    rows = 2 * ip[IP_RADIUS] + 1
    x = np.zeros((5, 4))
    row = np.zeros((rows, out_f8.shape[0]))
    dd = np.zeros((3, rows))
    chg = np.zeros((2, 5), dtype=np.int64)
    i = start
    while i < n_rec:
        if (sc[SC_HT_USED] + sc[SC_HT_TOMB] + 2) * 2 > ht_pub.shape[0]:
            # keep the load factor <= 1/2: drop tombstones in place, or let the caller grow
            if (sc[SC_HT_USED] + 2) * 4 > ht_pub.shape[0]:
                return i, n_out, STOP_TABLE_FULL
            ht_purge(ht_pub, ht_oid, ht_val)
            sc[SC_HT_TOMB] = 0
        fl = np.int64(flags[i])
        snap = (fl & F_SNAPSHOT) != 0
        if not snap and sc[SC_EVENT_TIMED] == 0:
            t = max(sc[SC_CLOCK], np.int64(ts_event[i]))
            if sc[SC_STARTED] == 0 and t >= t0:
                sc[SC_STARTED] = 1
                sc[SC_OPEN_SEQ] = first_seq
                sc[SC_BIN_EVENTS] = 0
            if sc[SC_STARTED] == 1:
                while sc[SC_OPEN_SEQ] < n_bins and t >= cap_start + (sc[SC_OPEN_SEQ] + 1) * cw:
                    if sc[SC_OPEN_SEQ] >= 0 and n_out >= n_cap:
                        return i, n_out, STOP_OUTPUT_FULL
                    n_out = close_bin(
                        n_out, sc, stats, ip, coef, lam, v_mass, v_depth, windows, weights,
                        ht_pub, ht_val, tob, depth, y, t_last, last_ev,
                        spec_hist, spec_sums, spec_prev, x, row, dd,
                        out_f8, out_i4, out_i1, out_i8, out_bin_i8, out_bin_f8, out_bin_b,
                    )  # fmt: skip
            sc[SC_CLOCK] = t
            sc[SC_EVENT_TIMED] = 1
        if sc[SC_IN_EVENT] == 0:
            sc[SC_IN_EVENT] = 1
            sc[SC_EVENT_ID] += 1
        flow = (not snap) and sc[SC_STARTED] == 1 and sc[SC_OPEN_SEQ] < n_bins
        stats[ST_RECORDS] += 1
        if snap:
            stats[ST_SNAPSHOTS] += 1

        act = np.int64(action[i])
        px = np.int64(price[i])
        sz = np.int64(size[i])
        pub = np.int64(publisher_id[i])
        oid = order_id[i]
        rs = np.int64(side[i])
        sd = SD_BID if rs == S_BID else (SD_ASK if rs == S_ASK else -1)
        px_ok = px != UNDEF_PRICE and px != 0

        # The record's book changes: up to two (bucket, side, depth delta, mass group, mass
        # qty) rows in `chg`, applied after the switch: every depth change in order, then,
        # with flow, every mass impulse in order (side -1: a mass impulse only).
        k = 0
        slot = -1
        tob_add = act == A_ADD and (fl & F_TOB) != 0
        if ((act == A_ADD or act == A_MODIFY) and px_ok and not tob_add) or (
            act == A_CANCEL or act == A_FILL
        ):
            slot = ht_find(ht_pub, ht_oid, pub, oid)
        if act == A_ADD or act == A_MODIFY:
            if act == A_ADD:
                stats[ST_ADDS] += 1
            else:
                stats[ST_MODIFIES] += 1
            if tob_add:
                # top-of-book venue: this add replaces the publisher's whole side
                stats[ST_TOB] += 1
                if pub >= MAX_PUBLISHERS:
                    stats[ST_BAD_PUB] += 1
                elif sd < 0:
                    stats[ST_BAD_SIDES] += 1
                elif px == 0:
                    stats[ST_BAD_PRICES] += 1
                else:
                    empty = px == UNDEF_PRICE or sz <= 0
                    if not empty and sc[SC_ANCHORED] == 0:
                        sc[SC_ANCHOR] = px // bucket - n // 2
                        sc[SC_ANCHORED] = 1
                    op = tob[pub, sd, 0]
                    osz = tob[pub, sd, 1]
                    if osz > 0 and not empty and op == px:
                        dq = sz - osz
                        if dq != 0:
                            g = G_ADD if dq > 0 else G_PULL
                            k = push_change(chg, k, px // bucket, sd, dq, g, abs(dq))
                    else:
                        if osz > 0:
                            k = push_change(chg, k, op // bucket, sd, -osz, G_PULL, osz)
                        if not empty:
                            k = push_change(chg, k, px // bucket, sd, sz, G_ADD, sz)
                    tob[pub, sd, 0] = 0 if empty else px
                    tob[pub, sd, 1] = 0 if empty else sz
            elif not px_ok:
                stats[ST_BAD_PRICES] += 1
            elif slot < 0:
                if act == A_MODIFY:
                    stats[ST_ORPHANS] += 1  # applied as an add (Databento book rule)
                if sd < 0:
                    stats[ST_BAD_SIDES] += 1
                elif sz > 0:
                    if sc[SC_ANCHORED] == 0:
                        sc[SC_ANCHOR] = px // bucket - n // 2
                        sc[SC_ANCHORED] = 1
                    slot = ht_insert(ht_pub, ht_oid, sc, pub, oid)
                    ht_val[slot, HV_PRICE] = px
                    ht_val[slot, HV_SIZE] = sz
                    ht_val[slot, HV_SIDE] = sd
                    ht_val[slot, HV_INSTRUMENT] = np.int64(instrument_id[i])
                    ht_val[slot, HV_PENDING_FILL] = 0
                    k = push_change(chg, k, px // bucket, sd, sz, G_ADD, sz)
            else:
                if act == A_ADD:
                    stats[ST_DUP_ADDS] += 1
                old_p = ht_val[slot, HV_PRICE]
                old_s = ht_val[slot, HV_SIZE]
                osd = ht_val[slot, HV_SIDE]
                if sz <= 0:
                    k = remove_qty(slot, old_s, k, chg, sc, stats, ip, ht_pub, ht_val)
                elif px == old_p:
                    if sz < old_s:
                        k = remove_qty(slot, old_s - sz, k, chg, sc, stats, ip, ht_pub, ht_val)
                    elif sz > old_s:
                        # size increase: added quantity (loses priority; queues not kept)
                        k = push_change(chg, k, px // bucket, osd, sz - old_s, G_ADD, sz - old_s)
                        ht_val[slot, HV_SIZE] = sz
                else:
                    # price change = cancel at the old price + add at the new one; a
                    # reduction covered by a pending fill is a fill, not a pull
                    filled = min(max(old_s - sz, 0), ht_val[slot, HV_PENDING_FILL])
                    ht_val[slot, HV_PENDING_FILL] -= filled
                    stats[ST_FILL_MATCHED] += filled
                    k = push_change(chg, k, old_p // bucket, osd, -old_s, G_PULL, old_s - filled)
                    k = push_change(chg, k, px // bucket, osd, sz, G_ADD, sz)
                    ht_val[slot, HV_PRICE] = px
                    ht_val[slot, HV_SIZE] = sz
        elif act == A_CANCEL:
            stats[ST_CANCELS] += 1
            if slot < 0:
                stats[ST_ORPHANS] += 1
            else:
                r = min(sz, ht_val[slot, HV_SIZE])
                if r > 0:
                    k = remove_qty(slot, r, k, chg, sc, stats, ip, ht_pub, ht_val)
        elif act == A_FILL:
            stats[ST_FILLS] += 1
            if not px_ok:
                stats[ST_BAD_PRICES] += 1
            elif flow and sc[SC_ANCHORED] == 1:
                fb = px // bucket
                if 0 <= fb - sc[SC_ANCHOR] < n:
                    k = push_change(chg, k, fb, -1, 0, G_FILL, sz)
                else:
                    stats[ST_OUT_OF_RANGE] += 1
            if slot < 0:
                stats[ST_ORPHANS] += 1
            else:
                ht_val[slot, HV_PENDING_FILL] += sz
        elif act == A_CLEAR:
            stats[ST_CLEARS] += 1
            inst = np.int64(instrument_id[i])
            for s in range(ht_pub.shape[0]):
                if ht_pub[s] == pub and ht_val[s, HV_INSTRUMENT] == inst:
                    book_change(
                        ht_val[s, HV_PRICE] // bucket, ht_val[s, HV_SIDE], -ht_val[s, HV_SIZE],
                        False, sc, stats, depth, y, t_last, last_ev, lam, b_depth,
                    )  # fmt: skip
                    ht_pub[s] = HT_TOMB
                    sc[SC_HT_USED] -= 1
                    sc[SC_HT_TOMB] += 1
            if pub < MAX_PUBLISHERS:
                for s2 in range(2):
                    if tob[pub, s2, 1] > 0:
                        book_change(
                            tob[pub, s2, 0] // bucket, s2, -tob[pub, s2, 1], False, sc, stats,
                            depth, y, t_last, last_ev, lam, b_depth,
                        )  # fmt: skip
                        tob[pub, s2, 0] = 0
                        tob[pub, s2, 1] = 0
        elif act == A_TRADE:
            stats[ST_TRADES] += 1

        for e in range(k):
            if chg[e, 1] >= 0:
                book_change(
                    chg[e, 0], chg[e, 1], chg[e, 2], flow, sc, stats, depth, y, t_last,
                    last_ev, lam, b_depth,
                )  # fmt: skip
        if flow:
            for e in range(k):
                mass_flow(chg[e, 0], chg[e, 3], chg[e, 4], sc, y, t_last, last_ev, lam, b_mass)

        if (fl & F_LAST) != 0:
            stats[ST_EVENTS] += 1
            sc[SC_IN_EVENT] = 0
            sc[SC_EVENT_TIMED] = 0
            sc[SC_BIN_EVENTS] += 1
            hb, bb, ha, ba = true_best(sc, ip, ht_pub, ht_val, tob, depth)
            anchor = sc[SC_ANCHOR]
            center = 0
            move = False
            if hb and ha and bb > ba:
                stats[ST_CROSSED] += 1
            elif hb and ha and ba - bb < n - 2 * margin:
                sc[SC_SEEN_VALID] = 1
                center = (bb + ba + 1) // 2  # follow the spot
                move = True
            elif sc[SC_SEEN_VALID] == 0 and (hb or ha):
                # no valid book yet (e.g. a stub quote anchored the array): centre on the
                # best bid (stub bids sit low, stub asks high), else the best ask
                center = bb if hb else ba
                move = True
            # otherwise (one-sided, crossed, spread wider than the array): stay put
            if move and (center - anchor < margin or center - anchor >= n - margin):
                reanchor(center, sc, stats, ip, ht_pub, ht_val, tob, depth, y, t_last, last_ev)
        i += 1

    if finish:
        if sc[SC_STARTED] == 0:
            sc[SC_STARTED] = 1
            sc[SC_OPEN_SEQ] = first_seq
            sc[SC_BIN_EVENTS] = 0
        while sc[SC_OPEN_SEQ] < n_bins:
            if sc[SC_OPEN_SEQ] >= 0 and n_out >= n_cap:
                return i, n_out, STOP_OUTPUT_FULL
            n_out = close_bin(
                n_out, sc, stats, ip, coef, lam, v_mass, v_depth, windows, weights,
                ht_pub, ht_val, tob, depth, y, t_last, last_ev,
                spec_hist, spec_sums, spec_prev, x, row, dd,
                out_f8, out_i4, out_i1, out_i8, out_bin_i8, out_bin_f8, out_bin_b,
            )  # fmt: skip
    return i, n_out, STOP_DONE
