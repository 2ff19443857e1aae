"""The TP/SL kernel against its slow twin, and the no-look-ahead property."""

from __future__ import annotations

import numpy as np
import pytest

from spymaster_harness.eval import Market, evaluate
from tests.harness.harness_synth import random_market
from tests.harness.tpsl_reference import evaluate_one

TICK = 0.25


def _scores(rng: np.random.Generator, n_combos: int, n_bins: int) -> np.ndarray:
    s = np.tanh(rng.standard_normal((n_combos, n_bins)) * 0.8)
    s[:, :7] = np.nan  # not ready
    s[rng.random((n_combos, n_bins)) < 0.02] = np.nan
    return s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_bins = 600
    bins = random_market(rng, n_bins)
    scores = _scores(rng, 3, n_bins)
    thresholds = [0.3, 0.6]
    cooldowns = [0, 5, 17]
    tps = [2, 4, 6, 3]
    sls = [2, 3, 1, 6]
    res = evaluate(
        scores,
        Market.from_bins(bins),
        thresholds=thresholds,
        cooldowns=cooldowns,
        tp_ticks=tps,
        sl_ticks=sls,
        warmup_bins=11,
        max_hold_bins=40,
        tick_size=TICK,
    )
    for c in range(scores.shape[0]):
        for h, thr in enumerate(thresholds):
            for d, cd in enumerate(cooldowns):
                for p, (tp, sl) in enumerate(zip(tps, sls, strict=True)):
                    ref = evaluate_one(
                        scores[c],
                        bins,
                        threshold=thr,
                        cooldown=cd,
                        tp=tp,
                        sl=sl,
                        warmup=11,
                        max_hold=40,
                        tick_size=TICK,
                    )
                    m = res.metrics(c, h, d, p)
                    assert m["n_signals"] == ref["n_signals"] > 0
                    assert (m["n_tp"], m["n_sl"], m["n_timeout"]) == (
                        ref["n_tp"],
                        ref["n_sl"],
                        ref["n_timeout"],
                    )
                    assert m["mean_pnl_ticks"] * m["n_signals"] == pytest.approx(ref["pnl_sum"])
                    ebins, dirs, pnl = res.trades(c, h, d, p)
                    assert [(int(b), int(x)) for b, x in zip(ebins, dirs, strict=True)] == [
                        (t[0], t[1]) for t in ref["trades"]
                    ]
                    np.testing.assert_allclose(pnl, [t[3] for t in ref["trades"]])


def test_rules_by_hand() -> None:
    """Long at the ask, exit at the bid; stop checked before take-profit; skip invalid bins."""
    tick = 250_000_000
    bid = np.array([100, 100, 90, 104, 110, 100], dtype=np.int64) * tick
    ask = bid + tick
    bins = {
        "best_bid_price_int": bid,
        "best_ask_price_int": ask,
        "book_valid": np.array([True, True, False, True, True, True]),
        "mid_price": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0]),
        "bin_start_ns": np.zeros(6, dtype=np.int64),
        "bin_end_ns": np.full(6, 100_000_000, dtype=np.int64),
    }
    scores = np.array([[0.0, 0.9, 0.0, 0.0, 0.0, 0.0]])
    res = evaluate(
        scores,
        Market.from_bins(bins),
        thresholds=[0.5],
        cooldowns=[0],
        tp_ticks=[3, 20],
        sl_ticks=[5, 20],
        warmup_bins=0,
        max_hold_bins=10,
        tick_size=0.25,
    )
    # entry at bin 1 ask = 101; bin 2 (bid 90) is invalid and skipped; bin 3 bid 104 -> +3 tp
    assert res.metrics(0, 0, 0, 0)["n_tp"] == 1
    _, _, pnl = res.trades(0, 0, 0, 0)
    assert pnl.tolist() == [3.0]
    # wide pair: timeout at the last tradable bin (bin 4, bid 110 -> +9; bin 5 has mid 0)
    m = res.metrics(0, 0, 0, 1)
    assert m["n_timeout"] == 1 and m["mean_pnl_ticks"] == 9.0


def test_no_look_ahead() -> None:
    """Changing anything after a decision never changes that decision (or a closed trade)."""
    rng = np.random.default_rng(7)
    n_bins = 800
    bins = random_market(rng, n_bins)
    scores = _scores(rng, 2, n_bins)
    kw = dict(
        thresholds=[0.4],
        cooldowns=[3],
        tp_ticks=[3, 5],
        sl_ticks=[3, 2],
        warmup_bins=20,
        max_hold_bins=60,
        tick_size=TICK,
    )
    base = evaluate(scores, Market.from_bins(bins), **kw)
    for cut in (100, 333, 600):
        bins2 = {k: v.copy() for k, v in bins.items()}
        tail = slice(cut + 1, None)
        n_tail = n_bins - cut - 1
        bins2["best_bid_price_int"][tail] += rng.integers(-50, 50, n_tail) * 250_000_000
        bins2["best_ask_price_int"][tail] = bins2["best_bid_price_int"][tail] + 250_000_000
        bins2["book_valid"][tail] = rng.random(n_tail) > 0.5
        scores2 = scores.copy()
        scores2[:, tail] = rng.standard_normal((2, n_tail))
        other = evaluate(scores2, Market.from_bins(bins2), **kw)
        for c in range(2):
            for p in range(2):
                b0, d0, pnl0 = base.trades(c, 0, 0, p)
                b1, d1, pnl1 = other.trades(c, 0, 0, p)
                decided = b0 <= cut
                # every entry decision up to the cut is unchanged
                assert b0[decided].tolist() == b1[: decided.sum()].tolist()
                assert d0[decided].tolist() == d1[: decided.sum()].tolist()
                # a trade whose exit happened by the cut keeps its outcome and PnL
                di = np.where(d0 > 0, 0, 1)
                closed = decided & (base.outcome_exit[b0, di, p] <= cut)
                codes0 = base.outcome_code[b0[closed], di[closed], p]
                codes1 = other.outcome_code[b0[closed], di[closed], p]
                assert codes0.tolist() == codes1.tolist()
                np.testing.assert_array_equal(pnl0[closed], pnl1[: decided.sum()][closed[decided]])


def test_vectorised_views_match_per_combo(monkeypatch: pytest.MonkeyPatch) -> None:
    """metric_arrays / pnl_series_all_pairs (what sweeps store) equal metrics / trades."""
    from spymaster_harness.eval import tpsl

    monkeypatch.setattr(tpsl, "MAX_SERIES_POINTS", 9)  # exercise the thinning
    rng = np.random.default_rng(3)
    n_bins = 700
    bins = random_market(rng, n_bins)
    scores = _scores(rng, 3, n_bins)
    scores[2] = np.nan  # a series that never fires
    res = evaluate(
        scores,
        Market.from_bins(bins),
        thresholds=[0.2, 0.7],
        cooldowns=[0, 9],
        tp_ticks=[2, 4, 3],
        sl_ticks=[2, 1, 5],
        warmup_bins=5,
        max_hold_bins=50,
        tick_size=TICK,
    )
    arrays = res.metric_arrays()
    for c in range(3):
        for h in range(2):
            for d in range(2):
                bins_all, cum_all = res.pnl_series_all_pairs(c, h, d)
                for p in range(3):
                    m = res.metrics(c, h, d, p)
                    assert {k: arrays[k][c, h, d, p].item() for k in m} == m
                    ebins, _, pnl = res.trades(c, h, d, p)
                    cum = np.cumsum(pnl)
                    if len(cum) > 9:
                        keep = np.unique(np.linspace(0, len(cum) - 1, 9).astype(np.int64))
                        ebins, cum = ebins[keep], cum[keep]
                    np.testing.assert_array_equal(bins_all, ebins)
                    np.testing.assert_array_equal(cum_all[:, p], cum)  # bit for bit
                    sb, sc = res.pnl_series(c, h, d, p)
                    assert sb.dtype == np.int64 and sc.dtype == np.float64
                    np.testing.assert_array_equal(sc, cum)
    assert arrays["n_signals"][2].sum() == 0 and arrays["tp_rate"][2].sum() == 0.0
