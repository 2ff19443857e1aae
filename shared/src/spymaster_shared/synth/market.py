"""Synthetic MNQ-like MBO market: numba simulation -> MBO_DTYPE records -> genuine DBN file.

The simulation itself is in ``synth/kernels.py``; this module sets it up, adds the
receive-side fields (ts_recv, ts_in_delta, sequence), merges an optional second contract
and writes the file. Model and parameters: ``docs/synth.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spymaster_shared.config.pipeline import CaptureConfig
from spymaster_shared.config.runtime import ny_to_utc_ns
from spymaster_shared.dbn.records import (
    F_LAST,
    MBO_DTYPE,
    MBO_LENGTH_WORDS,
    MBO_RTYPE,
    PRICE_UNITS_PER_DOLLAR,
)
from spymaster_shared.dbn.writer import write_mbo_dbn
from spymaster_shared.paths import raw_dir
from spymaster_shared.synth import kernels as k
from spymaster_shared.synth.params import SynthParams

_FIRST_ORDER_ID = 6_500_000_000_000
_FIRST_SEQUENCE = 1_000_000


def session_bounds_ns(params: SynthParams) -> tuple[int, int]:
    """UTC ns of the session start and end (New York clock times on ``params.date``)."""
    return ny_to_utc_ns(params.date, params.start), ny_to_utc_ns(params.date, params.end)


def _param_vector(
    params: SynthParams,
    duration_s: float,
    center_slot: float,
    *,
    scale: float,
    mid_snapshot_s: float,
) -> np.ndarray:
    p = np.zeros(k.P_LEN, dtype=np.float64)
    p[k.P_DURATION_S] = duration_s
    p[k.P_ADD_RATE] = params.add_rate * scale
    p[k.P_CANCEL_HAZARD] = params.cancel_hazard
    p[k.P_MODIFY_HAZARD] = params.modify_hazard
    p[k.P_TRADE_RATE] = params.trade_rate * scale
    p[k.P_SIGMA_TICKS] = params.sigma_ticks
    p[k.P_REVERT_PER_S] = params.revert_per_s
    p[k.P_CENTER_SLOT] = center_slot
    p[k.P_NEAR_MEAN_TICKS] = params.near_mean_ticks
    p[k.P_FAR_SPAN_TICKS] = params.far_span_ticks
    p[k.P_FAR_FRACTION] = params.far_fraction
    p[k.P_SWEEP_PROB] = params.sweep_prob
    p[k.P_VACUUM_PER_MIN] = params.vacuum_per_min * scale
    p[k.P_PRESSURE_PER_MIN] = params.pressure_per_min * scale
    p[k.P_ORPHAN_RATE] = params.orphan_rate
    p[k.P_MID_SNAPSHOT_S] = mid_snapshot_s
    p[k.P_ACTIVITY_VOL] = params.activity_vol
    p[k.P_INSIDE_PROB] = params.inside_prob
    p[k.P_INITIAL_ORDERS] = max(1, round(params.initial_orders_per_side * scale))
    return p


def _simulate_contract(
    params: SynthParams,
    *,
    seed: int,
    instrument_id: int,
    price_offset: float,
    scale: float,
    first_order_id: int,
) -> np.ndarray:
    start_ns, end_ns = session_bounds_ns(params)
    duration_s = (end_ns - start_ns) / 1e9
    tick_int = round(params.tick_size * PRICE_UNITS_PER_DOLLAR)
    if params.start_price is not None:
        start_price = params.start_price
    else:
        start_price = 21300.0 + 400.0 * np.random.default_rng(params.seed).random()
    start_tick = round((start_price + price_offset) / params.tick_size)
    start_slot = k.NT // 2
    base_tick = start_tick - start_slot
    center_slot = (params.center_price + price_offset) / params.tick_size - base_tick
    mid_snapshot_s = duration_s / 2 if params.mid_session_snapshot else -1.0
    p = _param_vector(params, duration_s, center_slot, scale=scale, mid_snapshot_s=mid_snapshot_s)
    # Records per second are ~2.5x the add rate; allocate generously (untouched pages of
    # np.zeros cost nothing) and retry larger on overflow.
    cap = int(duration_s * params.add_rate * scale * 4) + 8 * int(p[k.P_INITIAL_ORDERS]) + 10_000
    while True:
        rec = np.zeros(cap, dtype=MBO_DTYPE)
        n = k.simulate(seed, p, rec, base_tick, tick_int, start_slot, start_ns, first_order_id)
        if n >= 0:
            break
        cap *= 2
    rec = rec[:n].copy() if n < cap // 2 else rec[:n]
    rec["instrument_id"] = instrument_id
    return rec


def _finish(records: np.ndarray, params: SynthParams) -> np.ndarray:
    """Constant header fields, then per-event receive latency, ts_in_delta and sequence."""
    records["length"] = MBO_LENGTH_WORDS
    records["rtype"] = MBO_RTYPE
    records["publisher_id"] = params.publisher_id
    records["channel_id"] = 0
    is_last = (records["flags"] & F_LAST) != 0
    # event index of every record (records after the last F_LAST join a final event)
    event = np.concatenate(([0], np.cumsum(is_last[:-1]))).astype(np.int64)
    n_events = int(event[-1]) + 1 if len(records) else 0
    rng = np.random.default_rng([params.seed, 0x5EC])
    latency = (40_000 + rng.gamma(4.0, 12_000.0, n_events)).astype(np.uint64)
    in_delta = (11_000 + rng.integers(0, 4_000, n_events)).astype(np.int32)
    # one ts_recv per event, never decreasing (events share it across their records)
    records["ts_recv"] = np.maximum.accumulate(records["ts_event"] + latency[event])
    records["ts_in_delta"] = in_delta[event]
    records["sequence"] = (_FIRST_SEQUENCE + event).astype(np.uint32)
    return records


def synthesize(params: SynthParams) -> np.ndarray:
    """The session's records (MBO_DTYPE), deterministic by ``params`` (seed included)."""
    records = _simulate_contract(
        params,
        seed=params.seed,
        instrument_id=params.instrument_id,
        price_offset=0.0,
        scale=1.0,
        first_order_id=_FIRST_ORDER_ID,
    )
    if params.second_contract:
        other = _simulate_contract(
            params,
            seed=(params.seed * 7919 + 104_729) % 2**31,
            instrument_id=params.second_instrument_id,
            price_offset=params.second_premium_points,
            scale=params.second_activity,
            first_order_id=_FIRST_ORDER_ID + (1 << 44),
        )
        both = np.concatenate([records, other])
        # Stable merge by ts_event keeps each contract's events whole and in order: within a
        # contract, distinct events have distinct, increasing timestamps.
        records = both[np.argsort(both["ts_event"], kind="stable")]
    return _finish(records, params)


def write_synthetic(params: SynthParams, path: str | Path) -> Path:
    """Synthesize the session and write it as a DBN MBO file (zstd when ``.zst``)."""
    records = synthesize(params)
    start_ns, end_ns = session_bounds_ns(params)
    symbols = [params.symbol]
    ids = [params.instrument_id]
    if params.second_contract:
        symbols.append(params.second_symbol)
        ids.append(params.second_instrument_id)
    return write_mbo_dbn(
        path,
        records,
        dataset=params.dataset,
        symbol=symbols,
        instrument_id=ids,
        start_ns=start_ns,
        end_ns=end_ns,
    )


def default_synth_path(capture: CaptureConfig, data_root: Path | None = None) -> Path:
    """Where ``spymaster synth`` writes a capture's session so ``capture_files`` finds it."""
    day = capture.date.strftime("%Y%m%d")
    name = f"synth-{capture.symbol.lower()}-{day}.mbo.dbn.zst"
    return raw_dir(capture.product_type, capture.symbol, data_root) / name
