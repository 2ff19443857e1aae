"""Numba kernels of the TP/SL evaluation (SPEC §7). Kernels only; see ``docs/harness.md``.

Units: prices are integers in 1e-9 dollars (``best_bid_price_int``/``best_ask_price_int``);
``price_per_tick`` = ``tick_size * 1e9`` converts a price difference to ticks. PnL is in
ticks, signed in the trade's favour.

Rules (the slow twin in ``tests/harness/tpsl_reference.py`` spells them out line by line):

* a bin is *tradable* when ``book_valid`` is true and ``mid_price`` != 0; untradable bins are
  skipped both for entries and for exits;
* bin ``t`` *fires* at threshold ``thr`` when ``t >= warmup_bins``, it is tradable, the score
  is finite and ``|score[t]| >= thr``; the direction is ``sign(score[t])``;
* cooldown is measured **from entry**: after an entry at ``e`` the next entry may happen at
  ``t >= e + cooldown_bins`` (positions may overlap; each firing is one independent trade, so
  entry decisions never depend on outcomes);
* entry price = the price a market order gets at the close of bin ``e``: best ask for a long,
  best bid for a short;
* exit: the first tradable bin ``j`` in ``e+1 .. e+max_hold_bins`` whose exit-side price
  (bid for a long, ask for a short) gives ``pnl <= -sl_ticks`` (stop, checked first, so a
  bin touching both counts as a stop) or ``pnl >= +tp_ticks`` (take profit); otherwise a
  timeout at the last tradable bin of that window, PnL at its exit-side price. A trade with
  no tradable bin after entry (end of data) is a timeout with PnL 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OUTCOME_NONE = 0
OUTCOME_TP = 1
OUTCOME_SL = 2
OUTCOME_TIMEOUT = 3

# Indices into the last axis of ``counts``.
N_SIGNALS, N_TP, N_SL, N_TIMEOUT = 0, 1, 2, 3

_EPS = 1e-9


@njit(cache=True, nogil=True)
def resolve_trade(
    entry_bin: int,
    direction: int,
    tp_ticks: np.ndarray,
    sl_ticks: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    tradable: np.ndarray,
    max_hold_bins: int,
    price_per_tick: float,
    out_code: np.ndarray,
    out_pnl: np.ndarray,
    out_exit: np.ndarray,
) -> None:
    """Outcome of one trade for every (tp_ticks[p], sl_ticks[p]) pair, in one forward scan.

    ``direction`` is +1 (long: enter at ask, exit at bid) or -1 (short: enter at bid, exit at
    ask). Writes ``out_code[p]`` (OUTCOME_*), ``out_pnl[p]`` (ticks) and ``out_exit[p]`` (bin).
    Reads only bins ``entry_bin .. exit bin``: nothing after the exit influences the outcome.
    """
    n_pairs = tp_ticks.shape[0]
    n_bins = bid.shape[0]
    entry_price = ask[entry_bin] if direction > 0 else bid[entry_bin]
    for p in range(n_pairs):
        out_code[p] = OUTCOME_NONE
        out_pnl[p] = 0.0
        out_exit[p] = entry_bin
    unresolved = n_pairs
    last = min(entry_bin + max_hold_bins, n_bins - 1)
    last_pnl = 0.0
    last_bin = entry_bin
    for j in range(entry_bin + 1, last + 1):
        if not tradable[j]:
            continue
        if direction > 0:
            pnl = (bid[j] - entry_price) / price_per_tick
        else:
            pnl = (entry_price - ask[j]) / price_per_tick
        last_pnl = pnl
        last_bin = j
        for p in range(n_pairs):
            if out_code[p] != OUTCOME_NONE:
                continue
            if pnl <= -sl_ticks[p] + _EPS:
                out_code[p] = OUTCOME_SL
            elif pnl >= tp_ticks[p] - _EPS:
                out_code[p] = OUTCOME_TP
            else:
                continue
            out_pnl[p] = pnl
            out_exit[p] = j
            unresolved -= 1
        if unresolved == 0:
            return
    for p in range(n_pairs):
        if out_code[p] == OUTCOME_NONE:
            out_code[p] = OUTCOME_TIMEOUT
            out_pnl[p] = last_pnl
            out_exit[p] = last_bin


@njit(cache=True, nogil=True)
def evaluate_tpsl(
    scores: np.ndarray,
    thresholds: np.ndarray,
    cooldowns: np.ndarray,
    tp_ticks: np.ndarray,
    sl_ticks: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    tradable: np.ndarray,
    warmup_bins: int,
    max_hold_bins: int,
    price_per_tick: float,
    counts: np.ndarray,
    pnl_sum: np.ndarray,
    entry_bins: np.ndarray,
    entry_dirs: np.ndarray,
    n_entries: np.ndarray,
    outcome_code: np.ndarray,
    outcome_pnl: np.ndarray,
    outcome_exit: np.ndarray,
) -> None:
    """Evaluate many signal-score series × thresholds × cooldowns × TP/SL pairs in one call.

    Inputs: ``scores[n_combos, n_bins]`` (signal score per bin, NaN = not ready),
    ``thresholds[n_thr]``, ``cooldowns[n_cd]`` (bins), ``tp_ticks[n_pairs]``/``sl_ticks[n_pairs]``
    (paired), ``bid``/``ask[n_bins]`` (int64, 1e-9 $), ``tradable[n_bins]`` (bool).

    Outputs (preallocated, zero-filled):
    ``counts[c, h, d, p, 4]`` = n_signals, n_tp, n_sl, n_timeout and ``pnl_sum[c, h, d, p]``
    (ticks) for combo c, threshold h, cooldown d, pair p; ``entry_bins``/``entry_dirs``
    ``[c, h, d, n_bins]`` with ``n_entries[c, h, d]`` valid entries each; the per-entry outcome
    table ``outcome_code/pnl/exit[n_bins, 2, n_pairs]`` (direction index 0 = long,
    1 = short), filled lazily and shared by every combo because a trade's outcome depends
    only on (entry bin, direction, pair).
    """
    n_combos, n_bins = scores.shape
    n_thr = thresholds.shape[0]
    n_cd = cooldowns.shape[0]
    n_pairs = tp_ticks.shape[0]
    start = max(warmup_bins, 0)
    for c in range(n_combos):
        for h in range(n_thr):
            thr = thresholds[h]
            for d in range(n_cd):
                cooldown = cooldowns[d]
                next_allowed = start
                k = 0
                for t in range(start, n_bins):
                    if t < next_allowed or not tradable[t]:
                        continue
                    s = scores[c, t]
                    if not np.isfinite(s) or abs(s) < thr or s == 0.0:
                        continue
                    direction = 1 if s > 0 else -1
                    di = 0 if direction > 0 else 1
                    if outcome_code[t, di, 0] == OUTCOME_NONE:
                        resolve_trade(
                            t,
                            direction,
                            tp_ticks,
                            sl_ticks,
                            bid,
                            ask,
                            tradable,
                            max_hold_bins,
                            price_per_tick,
                            outcome_code[t, di],
                            outcome_pnl[t, di],
                            outcome_exit[t, di],
                        )
                    entry_bins[c, h, d, k] = t
                    entry_dirs[c, h, d, k] = direction
                    k += 1
                    next_allowed = t + max(cooldown, 1)
                    for p in range(n_pairs):
                        counts[c, h, d, p, N_SIGNALS] += 1
                        code = outcome_code[t, di, p]
                        if code == OUTCOME_TP:
                            counts[c, h, d, p, N_TP] += 1
                        elif code == OUTCOME_SL:
                            counts[c, h, d, p, N_SL] += 1
                        else:
                            counts[c, h, d, p, N_TIMEOUT] += 1
                        pnl_sum[c, h, d, p] += outcome_pnl[t, di, p]
                n_entries[c, h, d] = k
