"""Numba kernels of the built-in signals: one ``*_step`` (one bin) and one ``*_run`` (all bins).

Kernels only; formulas with their rationale are in ``docs/signals.md``. Conventions shared by
every kernel:

- a row ``x`` is one bin's column over the grid, float64 (n_cells,), n_cells = 2R+1, index
  ``R + k`` for the tick k relative to spot; k = 0 (the spot row) is never on a side;
- ``fstate`` float64 (m,): scalar state, ``fstate[0]`` = bins seen so far (n_seen);
- ``buf`` float64 (rows, cols): history rings, slot ``n_seen % length``;
- ``p`` float64: parameters already converted to bins/ticks by the Python layer;
- a non-finite cell value is missing and skipped; a step returns NaN while not ready;
- ``*_run`` calls ``*_step`` on every row in order, so batch == incremental to the bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# ---------------------------------------------------------------- shared building blocks


@njit(cache=True)
def side_mean(x, k_lo, k_hi):
    """Mean of the finite ``x[R+k]`` for k in [k_lo, k_hi]; NaN when none is finite."""
    R = (x.shape[0] - 1) // 2
    s = 0.0
    n = 0
    for k in range(k_lo, k_hi + 1):
        v = x[R + k]
        if math.isfinite(v):
            s += v
            n += 1
    if n == 0:
        return np.nan
    return s / n


@njit(cache=True)
def ema_push(fstate, i, x, alpha):
    """EMA held in fstate[i] (value), fstate[i+1] (1.0 once seeded); returns the EMA.

    e <- x on the first finite x, then e <- e + alpha (x - e). A non-finite x leaves the
    state unchanged. Returns NaN until seeded.
    """
    if math.isfinite(x):
        if fstate[i + 1] == 0.0:
            fstate[i] = x
            fstate[i + 1] = 1.0
        else:
            fstate[i] = fstate[i] + alpha * (x - fstate[i])
    if fstate[i + 1] == 0.0:
        return np.nan
    return fstate[i]


@njit(cache=True)
def ring_rms(buf, row, count):
    """Root mean square of the finite values in ``buf[row, :count]``; NaN when none."""
    s = 0.0
    n = 0
    for q in range(count):
        v = buf[row, q]
        if math.isfinite(v):
            s += v * v
            n += 1
    if n == 0:
        return np.nan
    return math.sqrt(s / n)


@njit(cache=True)
def weighted_blend(a, b, c, wa, wb, wc, norm):
    """(wa a + wb b + wc c) / norm, norm = |wa| + |wb| + |wc|; NaN if any input is NaN."""
    return (wa * a + wb * b + wc * c) / norm


@njit(cache=True)
def weighted_blend_run(a, b, c, wa, wb, wc, norm, out):
    """Batch: ``weighted_blend`` element by element."""
    for t in range(a.shape[0]):
        out[t] = weighted_blend(a[t], b[t], c[t], wa, wb, wc, norm)


# ---------------------------------------------------------------- derivative


@njit(cache=True)
def derivative_step(fs, fstate, buf, p):
    """Canonical: EMA_alpha( (mean_{-B<=k<=-1} fs - mean_{1<=k<=B} fs) / 2 ), in [-1, 1].

    fs = flow_score row. p = [B (ticks), alpha]. fstate = [n_seen, ema, seeded].
    """
    B = int(p[0])
    raw = 0.5 * (side_mean(fs, -B, -1) - side_mean(fs, 1, B))
    fstate[0] += 1.0
    return ema_push(fstate, 1, raw, p[1])


@njit(cache=True)
def derivative_run(fs, fstate, buf, p, out):
    """Batch of ``derivative_step``."""
    for t in range(fs.shape[0]):
        out[t] = derivative_step(fs[t], fstate, buf, p)


# ---------------------------------------------------------------- ads


@njit(cache=True)
def ring_slope(buf, row, length, t, w):
    """OLS slope (per bin) of the finite values among the last ``w`` entries of a ring.

    Entry of bin u lives in ``buf[row, u % length]``; bins u = t-w+1 .. t (u >= 0).
    slope = sum (u - u_bar)(y - y_bar) / sum (u - u_bar)^2; NaN with fewer than 2 points.
    """
    n = 0
    su = 0.0
    sy = 0.0
    start = max(0, t - w + 1)
    for u in range(start, t + 1):
        y = buf[row, u % length]
        if math.isfinite(y):
            n += 1
            su += u - start
            sy += y
    if n < 2:
        return np.nan
    ub = su / n
    yb = sy / n
    num = 0.0
    den = 0.0
    for u in range(start, t + 1):
        y = buf[row, u % length]
        if math.isfinite(y):
            du = (u - start) - ub
            num += du * (y - yb)
            den += du * du
    return num / den


@njit(cache=True)
def ads_step(fs, fstate, buf, p):
    """Asymmetric derivative slope: mean_w tanh( slope_w(a) / RMS_Z(slope_w) ).

    a_t = mean_{-B<=k<=-1} fs - mean_{1<=k<=B} fs (bid-side minus ask-side flow score);
    slope_w = OLS slope of a over the last w bins, for each slope window w;
    RMS_Z = root mean square of slope_w over the last Z bins (this one included).
    NaN before ``warmup`` bins or while any slope is undefined; a term is 0 when RMS_Z = 0.
    p = [B, warmup (bins), Z (bins), n_w, w_1 .. w_n (bins)].
    buf rows: 0 = a (ring of length max w), 1..n_w = slope_w (ring of length Z).
    """
    B = int(p[0])
    warmup = int(p[1])
    Z = int(p[2])
    n_w = int(p[3])
    t = int(fstate[0])
    L = 1
    for i in range(n_w):
        L = max(L, int(p[4 + i]))
    buf[0, t % L] = side_mean(fs, -B, -1) - side_mean(fs, 1, B)
    total = 0.0
    ok = True
    for i in range(n_w):
        slope = ring_slope(buf, 0, L, t, int(p[4 + i]))
        buf[1 + i, t % Z] = slope
        if not math.isfinite(slope):
            ok = False
            continue
        rms = ring_rms(buf, 1 + i, min(t + 1, Z))
        if rms > 0.0:
            total += math.tanh(slope / rms)
    fstate[0] += 1.0
    if t + 1 < warmup or not ok:
        return np.nan
    return total / n_w


@njit(cache=True)
def ads_run(fs, fstate, buf, p, out):
    """Batch of ``ads_step``."""
    for t in range(fs.shape[0]):
        out[t] = ads_step(fs[t], fstate, buf, p)


# ---------------------------------------------------------------- pfp


@njit(cache=True)
def pressure_front(fs, sign, B):
    """Pressure-weighted mean distance (ticks) from spot on one side: sum |k| fs+ / sum fs+.

    sign = -1 for the bid side (k = -B..-1), +1 for the ask side (k = 1..B);
    fs+ = max(fs, 0). NaN when the side holds no positive finite flow score.
    """
    R = (fs.shape[0] - 1) // 2
    num = 0.0
    den = 0.0
    for d in range(1, B + 1):
        v = fs[R + sign * d]
        if math.isfinite(v) and v > 0.0:
            num += d * v
            den += v
    if den == 0.0:
        return np.nan
    return num / den


@njit(cache=True)
def pfp_step(fs, fstate, buf, p):
    """Pressure front propagation: tanh(EMA_alpha(raw)), raw in ticks per lag L.

    raw = (m_bid[t-L] - m_bid[t]) - (m_ask[t-L] - m_ask[t]).

    m_side = ``pressure_front`` (ticks from spot); a bid front moving toward spot (m_bid
    falling) is bullish, an ask front moving toward spot is bearish; raw unit: ticks per lag.
    p = [B, L (bins), alpha]. buf rows 0/1 = m_bid/m_ask rings of length L+1.
    fstate = [n_seen, ema, seeded].
    """
    B = int(p[0])
    L = int(p[1])
    t = int(fstate[0])
    mb = pressure_front(fs, -1, B)
    ma = pressure_front(fs, 1, B)
    buf[0, t % (L + 1)] = mb
    buf[1, t % (L + 1)] = ma
    raw = np.nan
    if t >= L:
        q = (t - L) % (L + 1)
        raw = (buf[0, q] - mb) - (buf[1, q] - ma)
    fstate[0] += 1.0
    e = ema_push(fstate, 1, raw, p[2])
    return math.tanh(e)


@njit(cache=True)
def pfp_run(fs, fstate, buf, p, out):
    """Batch of ``pfp_step``."""
    for t in range(fs.shape[0]):
        out[t] = pfp_step(fs[t], fstate, buf, p)


# ---------------------------------------------------------------- svac


@njit(cache=True)
def svac_step(vac, fstate, buf, p):
    """Spot vacuum concentration: EMA_alpha( (V_ask,near - V_bid,near) / V_wide ).

    V = max(vacuum_variant, 0); near = 1 <= |k| <= B on each side; wide = 1 <= |k| <= W,
    both sides. Vacuum above spot (asks thinning) is bullish. raw = 0 when V_wide = 0, NaN
    when no wide cell is finite. p = [B, W, alpha]. fstate = [n_seen, ema, seeded].
    """
    B = int(p[0])
    W = int(p[1])
    R = (vac.shape[0] - 1) // 2
    near_ask = 0.0
    near_bid = 0.0
    wide = 0.0
    n = 0
    for d in range(1, W + 1):
        va = vac[R + d]
        vb = vac[R - d]
        if math.isfinite(va):
            n += 1
            va = max(va, 0.0)
            wide += va
            if d <= B:
                near_ask += va
        if math.isfinite(vb):
            n += 1
            vb = max(vb, 0.0)
            wide += vb
            if d <= B:
                near_bid += vb
    raw = np.nan
    if n > 0:
        raw = 0.0 if wide == 0.0 else (near_ask - near_bid) / wide
    fstate[0] += 1.0
    return ema_push(fstate, 1, raw, p[2])


@njit(cache=True)
def svac_run(vac, fstate, buf, p, out):
    """Batch of ``svac_step``."""
    for t in range(vac.shape[0]):
        out[t] = svac_step(vac[t], fstate, buf, p)


# ---------------------------------------------------------------- erd


@njit(cache=True)
def erd_step(s5, fstate, buf, p):
    """Entropy regime: d (1 - H) over the state5 codes of |k| <= B in the last W bins.

    n_s = count of code s in {-2..2}; N = sum n_s; H = -sum (n_s/N) ln(n_s/N) / ln 5 in
    [0, 1]; d = sum s n_s / (2N) in [-1, 1]. Ordered (low-entropy) directional regimes score
    high. NaN before W bins or when N = 0. p = [B, W (bins)]. buf (W, 5) per-bin histograms.
    fstate = [n_seen, n_-2, n_-1, n_0, n_1, n_2] (running counts, exact integers).
    """
    B = int(p[0])
    W = int(p[1])
    R = (s5.shape[0] - 1) // 2
    t = int(fstate[0])
    slot = t % W
    if t >= W:
        for s in range(5):
            fstate[1 + s] -= buf[slot, s]
    for s in range(5):
        buf[slot, s] = 0.0
    for k in range(-B, B + 1):
        v = s5[R + k]
        if math.isfinite(v) and v >= -2.0 and v <= 2.0 and v == math.floor(v):
            buf[slot, int(v) + 2] += 1.0
    for s in range(5):
        fstate[1 + s] += buf[slot, s]
    fstate[0] += 1.0
    if t + 1 < W:
        return np.nan
    N = 0.0
    for s in range(5):
        N += fstate[1 + s]
    if N == 0.0:
        return np.nan
    H = 0.0
    d = 0.0
    for s in range(5):
        c = fstate[1 + s]
        if c > 0.0:
            q = c / N
            H -= q * math.log(q)
            d += (s - 2) * c
    return d / (2.0 * N) * (1.0 - H / math.log(5.0))


@njit(cache=True)
def erd_run(s5, fstate, buf, p, out):
    """Batch of ``erd_step``."""
    for t in range(s5.shape[0]):
        out[t] = erd_step(s5[t], fstate, buf, p)


# ---------------------------------------------------------------- iirc


@njit(cache=True)
def iirc_step(add, pull, fstate, buf, p):
    """Impulse-response cascade: tanh( (EMA_fast(u) - EMA_slow(u)) / scale ).

    u = (sum_{k<0} (add - pull) - sum_{k>0} (add - pull)) / sum_{1<=|k|<=B} (|add| + |pull|)
    over cells with both values finite: net liquidity added below spot minus above, in
    [-1, 1]; u = 0 when the denominator is 0, NaN when no cell is finite. The fast-minus-slow
    EMA pair is a band-pass impulse response: it reacts to fresh imbalance and forgets it.
    p = [B, alpha_fast, alpha_slow, scale]. fstate = [n_seen, e_fast, seeded, e_slow, seeded].
    """
    B = int(p[0])
    R = (add.shape[0] - 1) // 2
    num = 0.0
    den = 0.0
    n = 0
    for d in range(1, B + 1):
        ab = add[R - d]
        pb = pull[R - d]
        if math.isfinite(ab) and math.isfinite(pb):
            num += ab - pb
            den += abs(ab) + abs(pb)
            n += 1
        aa = add[R + d]
        pa = pull[R + d]
        if math.isfinite(aa) and math.isfinite(pa):
            num -= aa - pa
            den += abs(aa) + abs(pa)
            n += 1
    u = np.nan
    if n > 0:
        u = 0.0 if den == 0.0 else num / den
    fstate[0] += 1.0
    fast = ema_push(fstate, 1, u, p[1])
    slow = ema_push(fstate, 3, u, p[2])
    return math.tanh((fast - slow) / p[3])


@njit(cache=True)
def iirc_run(add, pull, fstate, buf, p, out):
    """Batch of ``iirc_step``."""
    for t in range(add.shape[0]):
        out[t] = iirc_step(add[t], pull[t], fstate, buf, p)


# ---------------------------------------------------------------- jad


@njit(cache=True)
def band_diff_sum(x, y, B):
    """sum_{|k|<=B} (x - y) over cells where both are finite; NaN when none is."""
    R = (x.shape[0] - 1) // 2
    s = 0.0
    n = 0
    for k in range(-B, B + 1):
        a = x[R + k]
        b = y[R + k]
        if math.isfinite(a) and math.isfinite(b):
            s += a - b
            n += 1
    if n == 0:
        return np.nan
    return s


@njit(cache=True)
def jad_step(a_bid, a_ask, j_bid, j_ask, fstate, buf, p):
    """Jerk/acceleration divergence: (tanh(X_a / RMS_W(X_a)) + tanh(X_j / RMS_W(X_j))) / 2.

    X_a = sum_{|k|<=B} (a_bid_depth - a_ask_depth), X_j the same with jerks: bid depth
    building faster than ask depth is bullish. When jerk diverges from acceleration the two
    terms cancel (the move is turning). RMS over the last W bins (this one included); a term
    is 0 when its RMS is 0. NaN before W bins or when X is missing.
    p = [B, W (bins)]. buf rows 0/1 = X_a/X_j rings of length W. fstate = [n_seen].
    """
    B = int(p[0])
    W = int(p[1])
    t = int(fstate[0])
    xa = band_diff_sum(a_bid, a_ask, B)
    xj = band_diff_sum(j_bid, j_ask, B)
    buf[0, t % W] = xa
    buf[1, t % W] = xj
    fstate[0] += 1.0
    if t + 1 < W or not (math.isfinite(xa) and math.isfinite(xj)):
        return np.nan
    ra = ring_rms(buf, 0, W)
    rj = ring_rms(buf, 1, W)
    za = xa / ra if ra > 0.0 else 0.0
    zj = xj / rj if rj > 0.0 else 0.0
    return 0.5 * (math.tanh(za) + math.tanh(zj))


@njit(cache=True)
def jad_run(a_bid, a_ask, j_bid, j_ask, fstate, buf, p, out):
    """Batch of ``jad_step``."""
    for t in range(a_bid.shape[0]):
        out[t] = jad_step(a_bid[t], a_ask[t], j_bid[t], j_ask[t], fstate, buf, p)


# ---------------------------------------------------------------- msd


@njit(cache=True)
def msd_step(comp, fstate, buf, p):
    """Multi-scale dispersion: m (1 - min(1, sd / (|m| + 1e-12))).

    a = (mean_{-B<=k<=-1} composite - mean_{1<=k<=B} composite) / 2; e_i = EMA of a with
    alpha_i = 2 / (N_i + 1) for each scale N_i (bins); m = mean_i e_i, sd = population std
    of the e_i. Agreement across time scales keeps the level, dispersion fades it.
    NaN before max N_i bins. p = [B, n_s, N_1 .. N_n]. fstate = [n_seen, e_1, seeded_1, ...].
    """
    B = int(p[0])
    n_s = int(p[1])
    t = int(fstate[0])
    a = 0.5 * (side_mean(comp, -B, -1) - side_mean(comp, 1, B))
    longest = 1
    m = 0.0
    ready = True
    for i in range(n_s):
        N = int(p[2 + i])
        longest = max(longest, N)
        e = ema_push(fstate, 1 + 2 * i, a, 2.0 / (N + 1.0))
        if math.isnan(e):
            ready = False
        m += e
    fstate[0] += 1.0
    if t + 1 < longest or not ready:
        return np.nan
    m = m / n_s
    v = 0.0
    for i in range(n_s):
        dv = fstate[1 + 2 * i] - m
        v += dv * dv
    sd = math.sqrt(v / n_s)
    return m * (1.0 - min(1.0, sd / (abs(m) + 1e-12)))


@njit(cache=True)
def msd_run(comp, fstate, buf, p, out):
    """Batch of ``msd_step``."""
    for t in range(comp.shape[0]):
        out[t] = msd_step(comp[t], fstate, buf, p)


# ---------------------------------------------------------------- spg


@njit(cache=True)
def spg_step(comp, fstate, buf, p):
    """Spatial pressure gradient: EMA_alpha( clip(-beta B, -1, 1) ).

    beta = OLS slope (per tick) of composite on k over the finite cells with |k| <= B
    (at least 3): more pressure below spot than above (beta < 0) is bullish; a straight
    profile from +1 at k = -B to -1 at k = +B gives raw = +1.
    p = [B, alpha]. fstate = [n_seen, ema, seeded].
    """
    B = int(p[0])
    R = (comp.shape[0] - 1) // 2
    n = 0
    sk = 0.0
    sc = 0.0
    for k in range(-B, B + 1):
        v = comp[R + k]
        if math.isfinite(v):
            n += 1
            sk += k
            sc += v
    raw = np.nan
    if n >= 3:
        kb = sk / n
        cb = sc / n
        num = 0.0
        den = 0.0
        for k in range(-B, B + 1):
            v = comp[R + k]
            if math.isfinite(v):
                dk = k - kb
                num += dk * (v - cb)
                den += dk * dk
        raw = min(1.0, max(-1.0, -(num / den) * B))
    fstate[0] += 1.0
    return ema_push(fstate, 1, raw, p[1])


@njit(cache=True)
def spg_run(comp, fstate, buf, p, out):
    """Batch of ``spg_step``."""
    for t in range(comp.shape[0]):
        out[t] = spg_step(comp[t], fstate, buf, p)
