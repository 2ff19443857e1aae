"""Test helpers: MBO records built by hand, a random MBO stream, configs, real files.

Kept obviously simple: records are listed as Python tuples and packed into ``MBO_DTYPE``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from spymaster_shared.config.pipeline import PipelineSpec
from spymaster_shared.config.runtime import EngineConfig, resolve_engine_config
from spymaster_shared.dbn.reader import open_mbo, read_mbo
from spymaster_shared.dbn.records import (
    F_LAST,
    F_SNAPSHOT,
    F_TOB,
    MBO_DTYPE,
    MBO_RTYPE,
    UNDEF_PRICE,
)

SHARED_DATA = Path(__file__).resolve().parents[1] / "data" / "databento"
T_BASE = 1_700_000_000_000_000_000  # capture start of hand-built streams (ns, UTC)
SEC = 1_000_000_000
MS = 1_000_000
PRICE = 1_000_000_000  # 1e-9 units per dollar


def make_cfg(
    capture_start_ns: int = T_BASE,
    capture_end_ns: int = T_BASE + 5 * SEC,
    warmup_ns: int = 10 * SEC,
    *,
    product_type: str = "future_mbo",
    symbol: str = "MNQH6",
    bucket_dollars: float | None = None,
    **engine: object,
) -> EngineConfig:
    """An EngineConfig for an arbitrary UTC window; ``engine`` overrides engine fields."""
    spec = PipelineSpec.model_validate(
        {
            "name": "engine_test",
            "pipeline_code_version": 1,
            "capture": {
                "product_type": product_type,
                "symbol": symbol,
                "dt": "2026-02-06",
                "start_time": "09:30",
                "end_time": "10:00",
            },
        }
    )
    cfg = resolve_engine_config(spec)
    update: dict[str, object] = {
        "capture_start_ns": capture_start_ns,
        "capture_end_ns": capture_end_ns,
        "warmup_start_ns": capture_start_ns - warmup_ns,
        **engine,
    }
    if bucket_dollars is not None:
        update["bucket_size_dollars"] = bucket_dollars
        update["bucket_price_int"] = round(bucket_dollars * PRICE)
    return cfg.model_copy(update=update)


def records(rows: list[tuple]) -> np.ndarray:
    """Pack ``(ts, action, side, price_dollars|None, size, order_id, flags, pub, inst)`` rows."""
    out = np.zeros(len(rows), dtype=MBO_DTYPE)
    for i, row in enumerate(rows):
        ts, action, side, price, size, oid, flags, pub, inst = row
        out[i]["length"] = MBO_DTYPE.itemsize // 4
        out[i]["rtype"] = MBO_RTYPE
        out[i]["ts_event"] = ts
        out[i]["ts_recv"] = ts
        out[i]["action"] = ord(action)
        out[i]["side"] = ord(side)
        out[i]["price"] = UNDEF_PRICE if price is None else round(price * PRICE)
        out[i]["size"] = size
        out[i]["order_id"] = oid
        out[i]["flags"] = flags
        out[i]["publisher_id"] = pub
        out[i]["instrument_id"] = inst
        out[i]["sequence"] = i
    return out


def rec(ts, action, side="N", price=None, size=0, oid=0, flags=F_LAST, pub=1, inst=7) -> tuple:
    return (ts, action, side, price, size, oid, flags, pub, inst)


def random_stream(
    seed: int,
    n_events: int,
    *,
    t_start: int = T_BASE - 3 * SEC,
    mean_gap_ns: int = 20 * MS,
    tick: float = 0.25,
    mid: float = 100.0,
    publishers: tuple[int, ...] = (1, 2),
    tob_publisher: int | None = 3,
    drift_ticks: float = 0.0,
    snapshot_every: int = 0,
    orphan_rate: float = 0.02,
) -> np.ndarray:
    """A random but well-formed MBO stream: adds, partial/full cancels, modifies (size and
    price), trades as T + F + C/M (sometimes with another order's record in between),
    orphan cancels, F_TOB side replacements, periodic R + F_SNAPSHOT rebuilds (with old
    ts_event), several publishers reusing the same order ids. Prices on a ``tick`` grid."""
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    live: dict[tuple[int, int], list] = {}  # (pub, oid) -> [price, size, side]
    next_oid = dict.fromkeys(publishers, 1000)
    t = t_start
    m = round(mid / tick)
    inst = 7

    def px(ticks: int) -> float:
        return ticks * tick

    for ev in range(n_events):
        t += int(rng.exponential(mean_gap_ns)) + 1
        m += int(rng.normal(drift_ticks, 0.6))
        # the market moved through these orders: they leave (keeps the book mostly uncrossed)
        crossed = [k for k, (p, _, sd) in live.items() if (sd == "A") == (p <= m)]
        for j, k in enumerate(crossed):
            price, size, side = live.pop(k)
            fl = F_LAST if j == len(crossed) - 1 else 0
            rows.append(rec(t, "C", side, px(price), size, k[1], fl, k[0], inst))
        u = rng.random()
        pub = int(rng.choice(publishers))
        if snapshot_every and ev and ev % snapshot_every == 0:
            old_ts = t - 3600 * SEC
            mine = [(k, v) for k, v in live.items() if k[0] == pub]
            rows.append(rec(old_ts, "R", flags=F_SNAPSHOT, pub=pub, inst=inst))
            for j, ((p, oid), (price, size, side)) in enumerate(mine):
                fl = F_SNAPSHOT | (F_LAST if j == len(mine) - 1 else 0)
                rows.append(rec(old_ts, "A", side, px(price), size, oid, fl, p, inst))
            if not mine:
                rows[-1] = rec(old_ts, "R", flags=F_SNAPSHOT | F_LAST, pub=pub, inst=inst)
            continue
        if u < 0.42 or not live:
            side = "B" if rng.random() < 0.5 else "A"
            off = int(rng.integers(1, 12))
            price = m - off if side == "B" else m + off
            oid = next_oid[pub]
            next_oid[pub] += 1
            size = int(rng.integers(1, 20))
            live[(pub, oid)] = [price, size, side]
            rows.append(rec(t, "A", side, px(price), size, oid, F_LAST, pub, inst))
        elif u < 0.62:
            key = list(live)[int(rng.integers(len(live)))]
            price, size, side = live[key]
            c = size if rng.random() < 0.6 else int(rng.integers(1, size + 1))
            rows.append(rec(t, "C", side, px(price), c, key[1], F_LAST, key[0], inst))
            live[key][1] -= c
            if live[key][1] == 0:
                del live[key]
        elif u < 0.77:
            key = list(live)[int(rng.integers(len(live)))]
            price, size, side = live[key]
            new_size = int(rng.integers(1, 25))
            if rng.random() < 0.3:
                price = price + int(rng.integers(-3, 4))
            live[key] = [price, new_size, side]
            rows.append(rec(t, "M", side, px(price), new_size, key[1], F_LAST, key[0], inst))
        elif u < 0.90:
            key = list(live)[int(rng.integers(len(live)))]
            price, size, side = live[key]
            q = int(rng.integers(1, size + 1))
            aggressor = "A" if side == "B" else "B"
            rows.append(rec(t, "T", aggressor, px(price), q, 0, 0, key[0], inst))
            rows.append(rec(t, "F", side, px(price), q, key[1], 0, key[0], inst))
            if rng.random() < 0.3 and len(live) > 1:  # an unrelated record in between
                other = list(live)[int(rng.integers(len(live)))]
                if other != key:
                    op, osz, oside = live[other]
                    rows.append(rec(t, "C", oside, px(op), osz, other[1], 0, other[0], inst))
                    del live[other]
            if q == size:
                rows.append(rec(t, "C", side, px(price), q, key[1], F_LAST, key[0], inst))
                del live[key]
            else:
                live[key][1] = size - q
                rows.append(rec(t, "M", side, px(price), size - q, key[1], F_LAST, key[0], inst))
        elif u < 0.90 + orphan_rate:
            rows.append(rec(t, "C", "B", px(m), 1, 999_999_999, F_LAST, pub, inst))
        elif tob_publisher is not None:
            side = "B" if rng.random() < 0.5 else "A"
            if rng.random() < 0.1:
                rows.append(rec(t, "A", side, None, 0, 0, F_TOB | F_LAST, tob_publisher, inst))
            else:
                off = int(rng.integers(1, 4))
                price = m - off if side == "B" else m + off
                size = int(rng.integers(1, 50))
                fl = F_TOB | F_LAST
                rows.append(rec(t, "A", side, px(price), size, 0, fl, tob_publisher, inst))
        else:
            rows.append(rec(t, "N", flags=F_LAST, pub=pub, inst=inst))
    return records(rows)


def read_dbn(path: Path) -> np.ndarray:
    """Every MBO record of a DBN file as MBO_DTYPE (our reader)."""
    return read_mbo(path)


def dbn_window(path: Path) -> tuple[int, int]:
    info = open_mbo(path)
    return info.start_ns, int(info.end_ns or info.start_ns)


def utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)
