"""A deliberately simple reference engine: dicts, one record at a time, SPEC §3 as written.

It shares no code with the engine. Per capture bin it records what the grid must show:
best bid/ask, spot, validity, resting depth per price bucket and side, and the decayed
add/pull/fill masses per bucket (sum of qty * exp(-(bin_end - t) / tau_rest_decay)).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from spymaster_shared.config.runtime import EngineConfig
from spymaster_shared.dbn.records import F_LAST, F_SNAPSHOT, F_TOB, UNDEF_PRICE


@dataclass
class RefBin:
    seq: int
    end: int
    best_bid: int | None  # bucket
    best_ask: int | None
    valid: bool
    spot: int | None
    depth: dict[tuple[int, str], int]  # (bucket, 'B'|'A') -> size
    masses: dict[tuple[int, str], float]  # (bucket, 'add'|'pull'|'fill') -> decayed qty
    events: int


@dataclass
class RefEngine:
    cfg: EngineConfig
    # (pub, order_id) -> [price, size, side, instrument, pending fill qty]
    orders: dict[tuple[int, int], list] = field(default_factory=dict)
    tob: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    flows: list[tuple[int, int, str, int]] = field(default_factory=list)  # (t, bucket, kind, qty)
    bins: list[RefBin] = field(default_factory=list)
    orphans: int = 0

    def bucket(self, price: int) -> int:
        return price // self.cfg.bucket_price_int

    def flow(self, on: bool, t: int, price: int, kind: str, qty: int) -> None:
        if on and qty > 0:
            self.flows.append((t, self.bucket(price), kind, qty))

    def remove(self, key, r: int, on: bool, t: int) -> None:
        o = self.orders[key]
        filled = min(r, o[4])
        o[4] -= filled
        self.flow(on, t, o[0], "pull", r - filled)
        o[1] -= r
        if o[1] <= 0:
            del self.orders[key]

    def modify(self, key, price: int, size: int, on: bool, t: int) -> None:
        o = self.orders[key]
        if size <= 0:
            self.remove(key, o[1], on, t)
        elif price == o[0]:
            if size < o[1]:
                self.remove(key, o[1] - size, on, t)
            elif size > o[1]:
                self.flow(on, t, price, "add", size - o[1])
                o[1] = size
        else:
            filled = min(max(o[1] - size, 0), o[4])
            o[4] -= filled
            self.flow(on, t, o[0], "pull", o[1] - filled)
            self.flow(on, t, price, "add", size)
            o[0], o[1] = price, size

    def apply(self, r, on: bool, t: int) -> None:
        action, side = chr(r["action"]), chr(r["side"])
        price, size, flags = int(r["price"]), int(r["size"]), int(r["flags"])
        key = (int(r["publisher_id"]), int(r["order_id"]))
        ok = price not in (0, UNDEF_PRICE)
        if action == "A" and flags & F_TOB:
            tkey = (key[0], side)
            old = self.tob.pop(tkey, None)
            new = None if price == UNDEF_PRICE or size <= 0 else (price, size)
            if old and new and old[0] == new[0]:
                d = new[1] - old[1]
                self.flow(on, t, price, "add" if d > 0 else "pull", abs(d))
            else:
                if old:
                    self.flow(on, t, old[0], "pull", old[1])
                if new:
                    self.flow(on, t, price, "add", size)
            if new:
                self.tob[tkey] = new
        elif action in "AM":
            if not ok:
                return
            if key in self.orders:
                self.modify(key, price, size, on, t)
            else:
                if action == "M":
                    self.orphans += 1
                if side in "AB" and size > 0:
                    self.orders[key] = [price, size, side, int(r["instrument_id"]), 0]
                    self.flow(on, t, price, "add", size)
        elif action == "C":
            if key not in self.orders:
                self.orphans += 1
            else:
                rm = min(size, self.orders[key][1])
                if rm > 0:
                    self.remove(key, rm, on, t)
        elif action == "F":
            if ok:
                self.flow(on, t, price, "fill", size)
            if key not in self.orders:
                self.orphans += 1
            else:
                self.orders[key][4] += size
        elif action == "R":
            inst = int(r["instrument_id"])
            for k in [k for k, o in self.orders.items() if k[0] == key[0] and o[3] == inst]:
                del self.orders[k]
            for s in "AB":
                self.tob.pop((key[0], s), None)

    def depth(self) -> dict[tuple[int, str], int]:
        d: dict[tuple[int, str], int] = defaultdict(int)
        for price, size, side, _, _ in self.orders.values():
            d[(self.bucket(price), side)] += size
        for (_, side), (price, size) in self.tob.items():
            d[(self.bucket(price), side)] += size
        return dict(d)

    def run(self, recs: np.ndarray) -> list[RefBin]:
        cfg = self.cfg
        cw = cfg.cell_width_ns
        first = -((cfg.capture_start_ns - cfg.warmup_start_ns) // cw)
        t0 = cfg.capture_start_ns + first * cw
        clock, started, seq, timed, spot, events = 0, False, first, False, None, 0
        for r in recs:
            snap = bool(r["flags"] & F_SNAPSHOT)
            if not snap and not timed:
                t = max(clock, int(r["ts_event"]))
                if not started and t >= t0:
                    started, seq, events = True, first, 0
                while started and seq < cfg.n_bins and t >= cfg.capture_start_ns + (seq + 1) * cw:
                    spot = self.close(seq, spot, events)
                    seq, events = seq + 1, 0
                clock, timed = t, True
            self.apply(r, (not snap) and started and seq < cfg.n_bins, clock)
            if r["flags"] & F_LAST:
                timed = False
                events += 1
        if not started:
            seq = first
        while seq < cfg.n_bins:
            spot = self.close(seq, spot, events)
            seq, events = seq + 1, 0
        return self.bins

    def close(self, seq: int, spot: int | None, events: int) -> int | None:
        end = self.cfg.capture_start_ns + (seq + 1) * self.cfg.cell_width_ns
        depth = self.depth()
        bids = [b for (b, s), q in depth.items() if s == "B" and q > 0]
        asks = [b for (b, s), q in depth.items() if s == "A" and q > 0]
        bb, ba = (max(bids) if bids else None), (min(asks) if asks else None)
        valid = bb is not None and ba is not None and bb <= ba
        if valid:
            spot = (bb + ba + 1) // 2  # mid rounded half up to the bucket grid
        if seq >= 0:
            tau = self.cfg.tau_rest_decay
            masses: dict[tuple[int, str], float] = defaultdict(float)
            for t, b, kind, q in self.flows:
                masses[(b, kind)] += q * math.exp(-(end - t) * 1e-9 / tau)
            self.bins.append(RefBin(seq, end, bb, ba, valid, spot, depth, dict(masses), events))
        return spot
