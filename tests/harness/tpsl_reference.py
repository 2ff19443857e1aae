"""Slow, obviously-correct twin of the TP/SL kernel (docs/harness.md, SPEC §7)."""

from __future__ import annotations

import math


def tradable(book_valid, mid, bid, ask, t: int) -> bool:
    return bool(book_valid[t]) and mid[t] != 0.0 and bid[t] > 0 and ask[t] > 0


def resolve(entry, direction, tp, sl, bid, ask, ok, max_hold, price_per_tick):
    """(outcome, pnl_ticks, exit_bin); outcome in {'tp', 'sl', 'timeout'}."""
    entry_price = ask[entry] if direction > 0 else bid[entry]
    last_pnl, last_bin = 0.0, entry
    for j in range(entry + 1, min(entry + max_hold, len(bid) - 1) + 1):
        if not ok[j]:
            continue
        if direction > 0:
            pnl = (bid[j] - entry_price) / price_per_tick
        else:
            pnl = (entry_price - ask[j]) / price_per_tick
        last_pnl, last_bin = pnl, j
        if pnl <= -sl + 1e-9:  # the stop first: a bin touching both is a stop
            return "sl", pnl, j
        if pnl >= tp - 1e-9:
            return "tp", pnl, j
    return "timeout", last_pnl, last_bin


def entries(scores, ok, threshold, cooldown, warmup):
    """[(bin, direction)] of the trades one score series takes."""
    out = []
    next_allowed = warmup
    for t in range(warmup, len(scores)):
        if t < next_allowed or not ok[t]:
            continue
        s = scores[t]
        if not math.isfinite(s) or abs(s) < threshold or s == 0.0:
            continue
        out.append((t, 1 if s > 0 else -1))
        next_allowed = t + max(cooldown, 1)
    return out


def evaluate_one(scores, bins, *, threshold, cooldown, tp, sl, warmup, max_hold, tick_size):
    bid = [int(x) for x in bins["best_bid_price_int"]]
    ask = [int(x) for x in bins["best_ask_price_int"]]
    ok = [tradable(bins["book_valid"], bins["mid_price"], bid, ask, t) for t in range(len(bid))]
    ppt = tick_size * 1e9
    trades = []
    for t, direction in entries(list(scores), ok, threshold, cooldown, warmup):
        outcome, pnl, exit_bin = resolve(t, direction, tp, sl, bid, ask, ok, max_hold, ppt)
        trades.append((t, direction, outcome, pnl, exit_bin))
    n = len(trades)
    return {
        "n_signals": n,
        "n_tp": sum(1 for tr in trades if tr[2] == "tp"),
        "n_sl": sum(1 for tr in trades if tr[2] == "sl"),
        "n_timeout": sum(1 for tr in trades if tr[2] == "timeout"),
        "pnl_sum": sum(tr[3] for tr in trades),
        "trades": trades,
    }
