"""numba kernels of the synthetic MBO market (model in ``docs/synth.md``). Kernels only.

State lives in preallocated int64 arrays so the hot loop never touches Python objects:

- ``lv[4, 2, NT]``: per side and absolute tick slot: head order, tail order, order count,
  resting quantity (FIFO queue = doubly linked list of order slots, oldest at head);
- ``oi[7, MAXO]``: per order slot: order id, tick slot, size, side, next, prev, position
  in the side's live list;
- ``live[2, MAXO]``: live order slots per side (uniform sampling, swap-remove);
- ``free[MAXO]``: stack of free order slots;
- ``st``: scalars (best bid slot, best ask slot, free-stack top, live counts, next order
  id, records written, capacity overflow).
- ``rec``: the output, a preallocated ``MBO_DTYPE`` array; kernels fill ts_event, action,
  side, price, size, order_id and flags (the caller fills the constant and receive fields).

Prices are tick slots (``price = (base_tick + slot) * tick_size``); sides are 0 bid, 1 ask.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NT = 1 << 15  # tick slots: +-8192 ticks of 0.25 = +-2048 points around the start
MAXO = 1 << 17  # order slots (live orders at once)
BID = 0
ASK = 1

# lv rows
L_HEAD = 0
L_TAIL = 1
L_CNT = 2
L_QTY = 3
# oi rows
O_ID = 0
O_PX = 1
O_SZ = 2
O_SIDE = 3
O_NEXT = 4
O_PREV = 5
O_POS = 6
# st slots
S_BB = 0
S_BA = 1
S_FREE = 2
S_NLIVE_B = 3
S_NLIVE_A = 4
S_NEXT_ID = 5
S_N = 6
S_OVERFLOW = 7
S_BASE_TICK = 8
S_TICK_INT = 9
S_LEN = 10

UNDEF_PRICE = np.iinfo(np.int64).max


# ASCII codes and flags (same values as spymaster_shared.dbn.records)
A_ADD = 65
A_CANCEL = 67
A_MODIFY = 77
A_CLEAR = 82
A_TRADE = 84
A_FILL = 70
SD_ASK = 65
SD_BID = 66
SD_NONE = 78
FL_LAST = 128
FL_SNAPSHOT = 32
FL_BAD_TS_RECV = 8

# parameter vector indices (see synth/params.py, which fills it)
P_DURATION_S = 0
P_ADD_RATE = 1
P_CANCEL_HAZARD = 2
P_MODIFY_HAZARD = 3
P_TRADE_RATE = 4
P_SIGMA_TICKS = 5
P_REVERT_PER_S = 6
P_CENTER_SLOT = 7
P_NEAR_MEAN_TICKS = 8
P_FAR_SPAN_TICKS = 9
P_FAR_FRACTION = 10
P_SWEEP_PROB = 11
P_VACUUM_PER_MIN = 12
P_PRESSURE_PER_MIN = 13
P_ORPHAN_RATE = 14
P_MID_SNAPSHOT_S = 15
P_ACTIVITY_VOL = 16
P_INSIDE_PROB = 17
P_INITIAL_ORDERS = 18
P_LEN = 19


@njit(cache=True)
def side_code(side):
    """ASCII side code of internal side ``side`` (0 bid -> 'B', 1 ask -> 'A')."""
    return SD_BID if side == BID else SD_ASK


@njit(cache=True)
def price_of(st, slot):
    """Price in 1e-9 units of tick slot ``slot`` (UNDEF_PRICE for a negative slot)."""
    if slot < 0:
        return UNDEF_PRICE
    return (st[S_BASE_TICK] + slot) * st[S_TICK_INT]


@njit(cache=True)
def emit(rec, st, ts, action, side, tick, size, oid, flags):
    """Append one record to ``rec``; set the overflow flag instead when it is full."""
    n = st[S_N]
    if n >= rec.shape[0]:
        st[S_OVERFLOW] = 1
        return
    r = rec[n]
    r.ts_event = ts
    r.action = action
    r.side = side
    r.price = price_of(st, tick)
    r.size = size
    r.order_id = oid
    r.flags = flags
    st[S_N] = n + 1


@njit(cache=True)
def mark_last(rec, st):
    """Set F_LAST on the last record written (the end of the current event)."""
    n = st[S_N]
    if st[S_OVERFLOW] == 0 and n > 0:
        rec[n - 1].flags = rec[n - 1].flags | FL_LAST


@njit(cache=True)
def refresh_best(lv, st, side):
    """Move the best price of ``side`` outward past empty levels (bid down, ask up)."""
    if side == BID:
        b = st[S_BB]
        while b >= 0 and lv[L_CNT, BID, b] == 0:
            b -= 1
        st[S_BB] = b
    else:
        a = st[S_BA]
        nt = lv.shape[2]
        while a < nt and lv[L_CNT, ASK, a] == 0:
            a += 1
        st[S_BA] = a


@njit(cache=True)
def link_tail(lv, oi, st, o, side, px):
    """Queue order slot ``o`` at the tail of level (side, px); update depth and best."""
    oi[O_PX, o] = px
    oi[O_NEXT, o] = -1
    t = lv[L_TAIL, side, px]
    oi[O_PREV, o] = t
    if t >= 0:
        oi[O_NEXT, t] = o
    else:
        lv[L_HEAD, side, px] = o
    lv[L_TAIL, side, px] = o
    lv[L_CNT, side, px] += 1
    lv[L_QTY, side, px] += oi[O_SZ, o]
    if side == BID:
        if px > st[S_BB]:
            st[S_BB] = px
    else:
        if px < st[S_BA]:
            st[S_BA] = px


@njit(cache=True)
def unlink(lv, oi, st, o):
    """Take order slot ``o`` out of its level queue; update depth and best."""
    side = oi[O_SIDE, o]
    px = oi[O_PX, o]
    p = oi[O_PREV, o]
    q = oi[O_NEXT, o]
    if p >= 0:
        oi[O_NEXT, p] = q
    else:
        lv[L_HEAD, side, px] = q
    if q >= 0:
        oi[O_PREV, q] = p
    else:
        lv[L_TAIL, side, px] = p
    lv[L_CNT, side, px] -= 1
    lv[L_QTY, side, px] -= oi[O_SZ, o]
    if lv[L_CNT, side, px] == 0:
        refresh_best(lv, st, side)


@njit(cache=True)
def new_order(lv, oi, live, free, st, side, px, size, oid):
    """Rest a new order; return its slot, or -1 when the order table is full."""
    top = st[S_FREE]
    if top <= 0:
        return -1
    o = free[top - 1]
    st[S_FREE] = top - 1
    oi[O_ID, o] = oid
    oi[O_SZ, o] = size
    oi[O_SIDE, o] = side
    k = st[S_NLIVE_B + side]
    live[side, k] = o
    oi[O_POS, o] = k
    st[S_NLIVE_B + side] = k + 1
    link_tail(lv, oi, st, o, side, px)
    return o


@njit(cache=True)
def remove_order(lv, oi, live, free, st, o):
    """Remove order slot ``o`` from the book, its live list, and free the slot."""
    unlink(lv, oi, st, o)
    side = oi[O_SIDE, o]
    k = oi[O_POS, o]
    last = st[S_NLIVE_B + side] - 1
    moved = live[side, last]
    live[side, k] = moved
    oi[O_POS, moved] = k
    st[S_NLIVE_B + side] = last
    free[st[S_FREE]] = o
    st[S_FREE] += 1


@njit(cache=True)
def add_distance(near_mean, far_span, far_fraction):
    """Ticks behind the own touch for a new order: near-touch geometric or far uniform."""
    if np.random.random() < far_fraction:
        return np.int64(np.random.random() * far_span)
    return np.int64(np.random.geometric(1.0 / (1.0 + near_mean)) - 1)


@njit(cache=True)
def order_size(big_prob):
    """Contracts in a new resting order: mostly 1-3, sometimes a block of 5-40."""
    if np.random.random() < big_prob:
        return np.int64(5 + np.random.random() * 35)
    return np.int64(np.random.geometric(0.55))


@njit(cache=True)
def add_price(st, side, d, improve, fair, nt):
    """Tick slot of a new order ``d`` ticks behind the fair quote, never crossing the book.

    Quotes are centred on the latent fair price (slot units): bids at floor(fair) - d,
    asks at floor(fair) + 1 + d. ``improve`` moves the order at least one tick inside a
    spread wider than a tick.
    """
    bb = st[S_BB]
    ba = st[S_BA]
    bid_ref = np.int64(np.floor(fair))
    wide = bb >= 0 and ba < nt and ba - bb > 1
    if side == BID:
        px = bid_ref - d
        if improve and wide and px <= bb:
            px = bb + 1
        if ba < nt and px >= ba:
            px = ba - 1
    else:
        px = bid_ref + 1 + d
        if improve and wide and px >= ba:
            px = ba - 1
        if bb >= 0 and px <= bb:
            px = bb + 1
    if px < 1:
        px = 1
    if px > nt - 2:
        px = nt - 2
    return px


@njit(cache=True)
def emit_snapshot(lv, oi, st, rec, ts):
    """Clear (``R``) then every resting order in priority order, flagged F_SNAPSHOT.

    Bids best to worst, then asks best to worst, FIFO within a level; the last record
    carries F_LAST. Flags include F_BAD_TS_RECV as Databento's CME snapshots do.
    """
    snap = FL_SNAPSHOT | FL_BAD_TS_RECV
    emit(rec, st, ts, A_CLEAR, SD_NONE, -1, 0, 0, snap)
    nt = lv.shape[2]
    px = st[S_BB]
    while px >= 0:
        o = lv[L_HEAD, BID, px]
        while o >= 0:
            emit(rec, st, ts, A_ADD, SD_BID, px, oi[O_SZ, o], oi[O_ID, o], snap)
            o = oi[O_NEXT, o]
        px -= 1
    px = st[S_BA]
    while px < nt:
        o = lv[L_HEAD, ASK, px]
        while o >= 0:
            emit(rec, st, ts, A_ADD, SD_ASK, px, oi[O_SZ, o], oi[O_ID, o], snap)
            o = oi[O_NEXT, o]
        px += 1
    mark_last(rec, st)


@njit(cache=True)
def execute_aggressor(lv, oi, live, free, st, rec, ts, side, qty, limit_px, rest, aggr_id):
    """One aggressive limit order of ``side`` for ``qty`` up to ``limit_px`` (tick slot).

    Emits ``T`` (side = aggressor, price = first fill price, size = total filled), then per
    resting order hit in FIFO order an ``F`` (side = resting side) immediately followed by
    ``C`` (fully filled) or ``M`` (remaining size). An unfilled rest is added as a resting
    order (``A``) at the limit when ``rest``. The event's last record carries F_LAST.
    Returns the quantity filled.
    """
    nt = lv.shape[2]
    opp = 1 - side
    t_index = st[S_N]
    emit(rec, st, ts, A_TRADE, side_code(side), 0, 0, aggr_id, 0)
    remaining = qty
    first_px = -1
    while remaining > 0:
        px = st[S_BA] if side == BID else st[S_BB]
        if px < 0 or px >= nt:
            break
        if (side == BID and px > limit_px) or (side == ASK and px < limit_px):
            break
        if first_px < 0:
            first_px = px
        o = lv[L_HEAD, opp, px]
        fill = oi[O_SZ, o]
        if fill > remaining:
            fill = remaining
        emit(rec, st, ts, A_FILL, side_code(opp), px, fill, oi[O_ID, o], 0)
        left = oi[O_SZ, o] - fill
        if left == 0:
            emit(rec, st, ts, A_CANCEL, side_code(opp), px, fill, oi[O_ID, o], 0)
            remove_order(lv, oi, live, free, st, o)
        else:
            emit(rec, st, ts, A_MODIFY, side_code(opp), px, left, oi[O_ID, o], 0)
            oi[O_SZ, o] = left
            lv[L_QTY, opp, px] -= fill
        remaining -= fill
    filled = qty - remaining
    if filled == 0:
        st[S_N] = t_index  # nothing traded: drop the T
        if not rest:
            return 0
    elif st[S_OVERFLOW] == 0:
        rec[t_index].price = price_of(st, first_px)
        rec[t_index].size = filled
    if rest and remaining > 0:
        if new_order(lv, oi, live, free, st, side, limit_px, remaining, aggr_id) >= 0:
            emit(rec, st, ts, A_ADD, side_code(side), limit_px, remaining, aggr_id, 0)
    if st[S_N] > t_index:
        mark_last(rec, st)
    return filled


@njit(cache=True)
def pick_in_zone(lv, st, side, lo, hi):
    """A resting order slot (the newest at its level) of ``side`` within tick slots
    [lo, hi], or -1 when none is found after a few draws (the zone is then nearly empty).
    """
    nt = lv.shape[2]
    for _ in range(8):
        px = lo + np.int64(np.random.random() * (hi - lo + 1))
        if 0 <= px < nt and lv[L_CNT, side, px] > 0:
            return lv[L_TAIL, side, px]
    return -1


@njit(cache=True)
def simulate(seed, p, rec, base_tick, tick_int, start_slot, start_ns, first_order_id):
    """Fill ``rec`` (MBO_DTYPE) with one contract's stream; return the record count, or -1
    when ``rec`` is too small.

    Continuous-time Gillespie simulation with thinning. Intensities (per second, scaled
    by a log-OU activity factor): adds ``add_rate``; cancels ``cancel_hazard`` per live
    order, accepted with weight 0.3 + 0.7·exp(-d/20) (d = ticks from own touch, near
    orders churn faster); modifies ``modify_hazard`` per live order; aggressors
    ``trade_rate``·(1 + 2|g|) with buy probability 0.5 + 0.45·g, g = clip((fair - mid)/2,
    -1, 1). The latent fair price (ticks) diffuses with ``sigma_ticks``/sqrt(s), reverts
    to ``center_slot``, and is pushed by episodes: vacuum (one side's near-touch orders
    are pulled for 1-3 s, then fair jumps 4-12 ticks through it with sweeping aggressors)
    and pressure (one side stacks near-touch adds for 3-8 s while fair drifts its way).
    Timestamps are ns, strictly increasing from event to event.
    """
    np.random.seed(seed)
    nt = NT
    lv = np.zeros((4, 2, nt), dtype=np.int64)
    lv[L_HEAD] = -1
    lv[L_TAIL] = -1
    oi = np.zeros((7, MAXO), dtype=np.int64)
    live = np.zeros((2, MAXO), dtype=np.int64)
    free = np.empty(MAXO, dtype=np.int64)
    for i in range(MAXO):
        free[i] = MAXO - 1 - i
    st = np.zeros(S_LEN, dtype=np.int64)
    st[S_BB] = -1
    st[S_BA] = nt
    st[S_FREE] = MAXO
    st[S_NEXT_ID] = first_order_id
    st[S_BASE_TICK] = base_tick
    st[S_TICK_INT] = tick_int

    duration = p[P_DURATION_S]
    add_rate = p[P_ADD_RATE]
    cancel_hazard = p[P_CANCEL_HAZARD]
    modify_hazard = p[P_MODIFY_HAZARD]
    trade_rate = p[P_TRADE_RATE]
    sigma = p[P_SIGMA_TICKS]
    revert = p[P_REVERT_PER_S]
    center = p[P_CENTER_SLOT]
    near_mean = p[P_NEAR_MEAN_TICKS]
    far_span = p[P_FAR_SPAN_TICKS]
    far_fraction = p[P_FAR_FRACTION]
    sweep_prob = p[P_SWEEP_PROB]
    vacuum_rate = p[P_VACUUM_PER_MIN] / 60.0
    pressure_rate = p[P_PRESSURE_PER_MIN] / 60.0
    orphan_rate = p[P_ORPHAN_RATE]
    mid_snapshot_s = p[P_MID_SNAPSHOT_S]
    activity_vol = p[P_ACTIVITY_VOL]
    inside_prob = p[P_INSIDE_PROB]
    n_initial = np.int64(p[P_INITIAL_ORDERS])

    # Initial book: a one-tick market around the start price, built from the add profile.
    st[S_BB] = start_slot
    st[S_BA] = start_slot + 1
    for side in range(2):
        for _ in range(n_initial):
            d = add_distance(near_mean, far_span, far_fraction)
            px = start_slot - d if side == BID else start_slot + 1 + d
            oid = st[S_NEXT_ID]
            st[S_NEXT_ID] += 1 + np.int64(np.random.random() * 3)
            new_order(lv, oi, live, free, st, side, px, order_size(0.03), oid)
    refresh_best(lv, st, BID)
    refresh_best(lv, st, ASK)
    emit_snapshot(lv, oi, st, rec, start_ns)

    t = 0.0
    last_ts = start_ns
    fair = float(start_slot) + 0.5
    log_activity = 0.0
    orphan_id = first_order_id + (np.int64(1) << 40)
    # episode state: kind 0 none, 1 vacuum, 2 pressure; direction +1 up / -1 down
    ep_kind = 0
    ep_dir = 1
    ep_phase_end = 0.0
    ep_end = 0.0
    ep_jump = 0.0
    ep_jumped = False
    # vacuum zone: the tick slots [zone_lo, zone_hi] of the vacated side at episode start
    zone_lo = 0
    zone_hi = -1
    next_vacuum = np.random.exponential(1.0 / vacuum_rate) if vacuum_rate > 0 else 1e18
    next_pressure = np.random.exponential(1.0 / pressure_rate) if pressure_rate > 0 else 1e18
    snapshot_done = mid_snapshot_s < 0

    while t < duration and st[S_OVERFLOW] == 0:
        activity = np.exp(log_activity)
        n_b = st[S_NLIVE_B]
        n_a = st[S_NLIVE_A]
        bb = st[S_BB]
        ba = st[S_BA]
        if bb >= 0 and ba < nt:
            mid = 0.5 * (bb + ba)
        elif bb >= 0:
            mid = bb + 0.5
        elif ba < nt:
            mid = ba - 0.5
        else:
            mid = fair
        g = (fair - mid) / 2.0
        if g > 1.0:
            g = 1.0
        elif g < -1.0:
            g = -1.0

        # episode bookkeeping
        pull_rate = 0.0
        stack_rate = 0.0
        trade_boost = 1.0
        if ep_kind == 0:
            if t >= next_vacuum:
                ep_kind = 1
                ep_dir = 1 if np.random.random() < 0.5 else -1
                ep_phase_end = t + 1.0 + 2.0 * np.random.random()
                ep_end = ep_phase_end + 1.0 + 3.0 * np.random.random()
                ep_jump = 4.0 + 8.0 * np.random.random()
                ep_jumped = False
                if ep_dir > 0:
                    zone_lo = st[S_BA]
                    zone_hi = st[S_BA] + 8
                else:
                    zone_lo = st[S_BB] - 8
                    zone_hi = st[S_BB]
                next_vacuum = ep_end + np.random.exponential(1.0 / vacuum_rate)
            elif t >= next_pressure:
                ep_kind = 2
                ep_dir = 1 if np.random.random() < 0.5 else -1
                ep_phase_end = t + 3.0 + 5.0 * np.random.random()
                ep_end = ep_phase_end + 2.0 * np.random.random()
                ep_jump = 3.0 + 5.0 * np.random.random()
                next_pressure = ep_end + np.random.exponential(1.0 / pressure_rate)
        if ep_kind != 0 and t >= ep_end:
            ep_kind = 0
        if ep_kind == 1:
            if t < ep_phase_end:
                pull_rate = 40.0
            else:
                if not ep_jumped:
                    fair += ep_dir * ep_jump
                    ep_jumped = True
                pull_rate = 10.0
                trade_boost = 4.0
        elif ep_kind == 2:
            stack_rate = 60.0
            trade_boost = 1.5

        r_add = add_rate * activity
        r_cancel = cancel_hazard * activity * (n_b + n_a)
        r_modify = modify_hazard * activity * (n_b + n_a)
        r_trade = trade_rate * activity * (1.0 + 2.0 * abs(g)) * trade_boost
        r_pull = pull_rate * activity
        r_stack = stack_rate * activity
        total = r_add + r_cancel + r_modify + r_trade + r_pull + r_stack
        dt = np.random.exponential(1.0 / total)
        t += dt
        if t >= duration:
            break

        # latent fair price and activity evolve between events
        sq = np.sqrt(dt)
        fair += sigma * sq * np.random.normal() - revert * (fair - center) * dt
        if ep_kind == 2:
            fair += ep_dir * ep_jump * dt / (ep_end - t + 3.0)
        if fair < 600.0:
            fair = 600.0
        elif fair > nt - 600.0:
            fair = nt - 600.0
        log_activity += -log_activity * dt / 120.0 + activity_vol * sq * np.random.normal()
        if log_activity > 0.7:
            log_activity = 0.7
        elif log_activity < -0.7:
            log_activity = -0.7

        ts = start_ns + np.int64(t * 1e9)
        if ts <= last_ts:
            ts = last_ts + 1
        last_ts = ts

        if not snapshot_done and t >= mid_snapshot_s:
            snapshot_done = True
            emit_snapshot(lv, oi, st, rec, ts)
            last_ts += 1
            ts = last_ts

        if orphan_rate > 0 and np.random.random() < orphan_rate:
            side = BID if np.random.random() < 0.5 else ASK
            px = add_price(st, side, np.int64(np.random.random() * 10), False, fair, nt)
            emit(
                rec,
                st,
                ts,
                A_CANCEL,
                side_code(side),
                px,
                1 + np.int64(np.random.random() * 3),
                orphan_id,
                FL_LAST,
            )
            orphan_id += 1
            last_ts += 1
            ts = last_ts

        u = np.random.random() * total
        if u < r_add:
            # side leans toward the fair price: the side behind a move adds more
            side = BID if np.random.random() < 0.5 + 0.25 * g else ASK
            vacated = ep_kind == 1 and (
                (ep_dir > 0 and side == ASK) or (ep_dir < 0 and side == BID)
            )
            d = add_distance(near_mean, far_span, far_fraction)
            lean = g if side == BID else -g
            improve = (not vacated) and np.random.random() < inside_prob * (1.0 + lean)
            px = add_price(st, side, d, improve, fair, nt)
            if vacated and zone_lo <= px <= zone_hi:
                # liquidity providers stay out of the zone being vacated
                px = zone_hi + 1 + d if side == ASK else zone_lo - 1 - d
                if side == ASK and st[S_BB] >= 0 and px <= st[S_BB]:
                    px = st[S_BB] + 1
                elif side == BID and st[S_BA] < nt and px >= st[S_BA]:
                    px = st[S_BA] - 1
                if px < 1 or px > nt - 2:
                    continue
            oid = st[S_NEXT_ID]
            size = order_size(0.03)
            if new_order(lv, oi, live, free, st, side, px, size, oid) >= 0:
                st[S_NEXT_ID] += 1 + np.int64(np.random.random() * 3)
                emit(rec, st, ts, A_ADD, side_code(side), px, size, oid, FL_LAST)
            continue
        u -= r_add
        if u < r_cancel:
            k = np.int64(np.random.random() * (n_b + n_a))
            side = BID if k < n_b else ASK
            o = live[side, k if side == BID else k - n_b]
            best = st[S_BB] if side == BID else st[S_BA]
            d = abs(oi[O_PX, o] - best)
            # the side facing the fair price pulls its near-touch orders faster
            facing = (side == ASK and g > 0) or (side == BID and g < 0)
            w = 0.3 + 0.7 * np.exp(-d / 20.0)
            if facing and d < 3:
                w = 1.0
            if np.random.random() < w:
                emit(
                    rec,
                    st,
                    ts,
                    A_CANCEL,
                    side_code(side),
                    oi[O_PX, o],
                    oi[O_SZ, o],
                    oi[O_ID, o],
                    FL_LAST,
                )
                remove_order(lv, oi, live, free, st, o)
            continue
        u -= r_cancel
        if u < r_modify:
            k = np.int64(np.random.random() * (n_b + n_a))
            side = BID if k < n_b else ASK
            o = live[side, k if side == BID else k - n_b]
            size = oi[O_SZ, o]
            px = oi[O_PX, o]
            v = np.random.random()
            if v < 0.5 and size > 1:
                new_size = 1 + np.int64(np.random.random() * (size - 1))
                oi[O_SZ, o] = new_size
                lv[L_QTY, side, px] -= size - new_size
                emit(rec, st, ts, A_MODIFY, side_code(side), px, new_size, oi[O_ID, o], FL_LAST)
            else:
                # price move (mostly away from the touch) or size increase: loses priority
                new_size = size
                new_px = px
                if v < 0.65:
                    new_size = size + 1 + np.int64(np.random.random() * 3)
                else:
                    step = 1 + np.int64(np.random.random() * 3)
                    away = np.random.random() < 0.6
                    if side == BID:
                        new_px = px - step if away else px + step
                        if st[S_BA] < nt and new_px >= st[S_BA]:
                            new_px = st[S_BA] - 1
                    else:
                        new_px = px + step if away else px - step
                        if st[S_BB] >= 0 and new_px <= st[S_BB]:
                            new_px = st[S_BB] + 1
                    if new_px < 1 or new_px > nt - 2:
                        new_px = px
                unlink(lv, oi, st, o)
                oi[O_SZ, o] = new_size
                link_tail(lv, oi, st, o, side, new_px)
                emit(rec, st, ts, A_MODIFY, side_code(side), new_px, new_size, oi[O_ID, o], FL_LAST)
            continue
        u -= r_modify
        if u < r_trade:
            lean_buy = 0.5 + 0.45 * g
            if ep_kind == 1 and t >= ep_phase_end:
                lean_buy = 0.85 if ep_dir > 0 else 0.15
            side = BID if np.random.random() < lean_buy else ASK
            touch = st[S_BA] if side == BID else st[S_BB]
            if touch < 0 or touch >= nt:
                continue
            sweep = np.random.random() < sweep_prob * trade_boost
            if sweep:
                levels = 1 + np.int64(np.random.random() * 4)
                qty = 0
                for j in range(levels):
                    px = touch + j if side == BID else touch - j
                    if 0 <= px < nt:
                        qty += lv[L_QTY, 1 - side, px]
                qty = max(qty, 1)
                limit = touch + levels - 1 if side == BID else touch - levels + 1
                rest = np.random.random() < 0.5
            else:
                qty = np.random.geometric(0.45)
                limit = touch
                rest = False
            aggr_id = st[S_NEXT_ID]
            st[S_NEXT_ID] += 1
            execute_aggressor(lv, oi, live, free, st, rec, ts, side, qty, limit, rest, aggr_id)
            continue
        u -= r_trade
        if u < r_pull:
            side = ASK if ep_dir > 0 else BID
            o = pick_in_zone(lv, st, side, zone_lo, zone_hi)
            if o >= 0:
                emit(
                    rec,
                    st,
                    ts,
                    A_CANCEL,
                    side_code(side),
                    oi[O_PX, o],
                    oi[O_SZ, o],
                    oi[O_ID, o],
                    FL_LAST,
                )
                remove_order(lv, oi, live, free, st, o)
            continue
        # stacking: near-touch adds of larger size on the pressing side
        side = BID if ep_dir > 0 else ASK
        d = np.int64(np.random.geometric(0.5) - 1)
        px = add_price(st, side, d, False, fair, nt)
        size = 2 + np.int64(np.random.random() * 8)
        oid = st[S_NEXT_ID]
        if new_order(lv, oi, live, free, st, side, px, size, oid) >= 0:
            st[S_NEXT_ID] += 1 + np.int64(np.random.random() * 3)
            emit(rec, st, ts, A_ADD, side_code(side), px, size, oid, FL_LAST)

    if st[S_OVERFLOW] != 0:
        return -1
    return st[S_N]
