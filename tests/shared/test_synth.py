"""Synthetic MBO market: genuine DBN, Databento's MBO conventions, statistical shape."""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field
from pathlib import Path

import databento
import numpy as np
import pytest

from spymaster_shared.config.pipeline import CaptureConfig
from spymaster_shared.config.runtime import ny_to_utc_ns
from spymaster_shared.dbn.reader import open_mbo, read_mbo
from spymaster_shared.dbn.records import (
    ACTION_ADD,
    ACTION_CANCEL,
    ACTION_CLEAR,
    ACTION_FILL,
    ACTION_MODIFY,
    ACTION_TRADE,
    F_LAST,
    F_SNAPSHOT,
    MBO_DTYPE,
    SIDE_ASK,
    SIDE_BID,
    UNDEF_PRICE,
)
from spymaster_shared.dbn.sources import capture_files
from spymaster_shared.errors import SpymasterError
from spymaster_shared.synth import SynthParams, default_synth_path, synthesize, write_synthetic

MINUTES = 2
PARAMS = SynthParams(start=dt.time(9, 30), end=dt.time(9, 30 + MINUTES), seed=11)


@dataclass
class Replay:
    """What a simple dict book saw while replaying a stream (one instrument)."""

    crossed: int = 0
    orphans: int = 0
    fills_checked: int = 0
    bids_per_event: list[int] = field(default_factory=list)
    asks_per_event: list[int] = field(default_factory=list)
    levels_per_event: list[int] = field(default_factory=list)
    book_before_clear: list[dict] = field(default_factory=list)
    book_after_snapshot: list[dict] = field(default_factory=list)


def replay(records: np.ndarray) -> Replay:
    """Apply A/C/M/R to a dict book; check every F against the record that follows it.

    Best prices come from lazy-deletion heaps so each event costs O(log n).
    """
    out = Replay()
    orders: dict[int, tuple[int, int, int]] = {}  # order id -> (side, price, size)
    depth: dict[tuple[int, int], int] = {}
    heaps: dict[int, list[int]] = {SIDE_BID: [], SIDE_ASK: []}  # -bid prices, ask prices
    n_orders = {SIDE_BID: 0, SIDE_ASK: 0}
    n_levels = {SIDE_BID: 0, SIDE_ASK: 0}
    rows = records.tolist()
    names = MBO_DTYPE.names
    ix = {n: names.index(n) for n in names}
    in_snapshot = False

    def take(oid: int) -> tuple[int, int, int]:
        side, price, size = orders.pop(oid)
        n_orders[side] -= 1
        depth[side, price] -= size
        if depth[side, price] == 0:
            del depth[side, price]
            n_levels[side] -= 1
        return side, price, size

    def put(oid: int, side: int, price: int, size: int) -> None:
        orders[oid] = (side, price, size)
        n_orders[side] += 1
        if (side, price) not in depth:
            depth[side, price] = 0
            n_levels[side] += 1
            heapq.heappush(heaps[side], -price if side == SIDE_BID else price)
        depth[side, price] += size

    def best(side: int) -> int | None:
        heap = heaps[side]
        while heap:
            price = -heap[0] if side == SIDE_BID else heap[0]
            if (side, price) in depth:
                return price
            heapq.heappop(heap)
        return None

    for i, row in enumerate(rows):
        action, side, price = row[ix["action"]], row[ix["side"]], row[ix["price"]]
        size, oid, flags = row[ix["size"]], row[ix["order_id"]], row[ix["flags"]]
        if action == ACTION_CLEAR:
            out.book_before_clear.append(dict(orders))
            orders.clear()
            depth.clear()
            for s in (SIDE_BID, SIDE_ASK):
                heaps[s].clear()
                n_orders[s] = n_levels[s] = 0
            in_snapshot = True
        elif action == ACTION_ADD:
            put(oid, side, price, size)
        elif action == ACTION_CANCEL:
            if oid not in orders:
                out.orphans += 1
            else:
                take(oid)
        elif action == ACTION_MODIFY:
            if oid not in orders:
                out.orphans += 1
            else:
                take(oid)
                put(oid, side, price, size)
        elif action == ACTION_FILL:
            nxt = rows[i + 1]
            assert nxt[ix["order_id"]] == oid, f"record {i}: F not followed by its order"
            rest_side, rest_price, rest_size = orders[oid]
            assert rest_side == side and rest_price == price
            assert size <= rest_size
            if size == rest_size:
                assert nxt[ix["action"]] == ACTION_CANCEL and nxt[ix["size"]] == size
            else:
                assert nxt[ix["action"]] == ACTION_MODIFY
                assert nxt[ix["size"]] == rest_size - size and nxt[ix["price"]] == price
            out.fills_checked += 1
        if flags & F_LAST:
            if in_snapshot:
                out.book_after_snapshot.append(dict(orders))
                in_snapshot = False
            bid, ask = best(SIDE_BID), best(SIDE_ASK)
            if bid is not None and ask is not None and bid >= ask:
                out.crossed += 1
            out.bids_per_event.append(n_orders[SIDE_BID])
            out.asks_per_event.append(n_orders[SIDE_ASK])
            out.levels_per_event.append(n_levels[SIDE_BID])
    return out


@pytest.fixture(scope="module")
def session_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(PARAMS, tmp_path_factory.mktemp("synth") / "s.mbo.dbn.zst")


@pytest.fixture(scope="module")
def records(session_file: Path) -> np.ndarray:
    return read_mbo(session_file)


@pytest.fixture(scope="module")
def replayed(records: np.ndarray) -> Replay:
    return replay(records)


def test_databento_decodes_it(session_file: Path, records: np.ndarray) -> None:
    store = databento.DBNStore.from_file(session_file)
    theirs = store.to_ndarray()
    assert len(theirs) == len(records) > 0
    for name in MBO_DTYPE.names:
        expected = theirs[name]
        if expected.dtype.kind == "S":
            expected = expected.view(np.uint8)
        np.testing.assert_array_equal(records[name], expected, err_msg=name)
    assert store.metadata.dataset == "GLBX.MDP3"
    assert store.metadata.schema == "mbo"
    assert open_mbo(session_file).instrument_ids("MNQH6").tolist() == [42005347]


def test_synthesize_equals_file(records: np.ndarray) -> None:
    np.testing.assert_array_equal(synthesize(PARAMS), records)


def test_header_fields_and_clocks(records: np.ndarray) -> None:
    assert (records["length"] == 14).all() and (records["rtype"] == 0xA0).all()
    assert (records["publisher_id"] == 1).all()
    assert (records["instrument_id"] == 42005347).all()
    ts = records["ts_event"].astype(np.int64)
    recv = records["ts_recv"].astype(np.int64)
    assert (np.diff(ts) >= 0).all()
    assert (np.diff(recv) >= 0).all()
    latency = recv - ts
    assert latency.min() >= 0 and np.median(latency) < 1_000_000
    assert (np.diff(records["sequence"].astype(np.int64)) >= 0).all()
    start = ny_to_utc_ns(PARAMS.date, PARAMS.start)
    end = ny_to_utc_ns(PARAMS.date, PARAMS.end)
    assert ts[0] == start and ts[-1] < end


def test_rate_is_mnq_like(records: np.ndarray) -> None:
    per_second = len(records) / (MINUTES * 60)
    assert 1000 <= per_second <= 3000


def test_prices_on_tick_grid_in_mnq_range(records: np.ndarray) -> None:
    prices = records["price"][records["price"] != UNDEF_PRICE]
    assert (prices % 250_000_000 == 0).all()
    assert 20_500e9 < prices.min() and prices.max() < 22_500e9


def test_clear_and_snapshot_at_start(records: np.ndarray) -> None:
    assert records["action"][0] == ACTION_CLEAR
    assert records["price"][0] == UNDEF_PRICE
    first_last = int(np.flatnonzero(records["flags"] & F_LAST)[0])
    snapshot = records[: first_last + 1]
    assert (snapshot["flags"] & F_SNAPSHOT).all()
    assert (snapshot["action"][1:] == ACTION_ADD).all()
    assert len(snapshot) > 2 * 200
    assert not (records["flags"][first_last + 1 :] & F_SNAPSHOT).any()


def test_event_structure(records: np.ndarray) -> None:
    """Standalone A/C/M carry F_LAST; an aggressor event is T, (F, C|M)+, optional A."""
    ends = np.flatnonzero(records["flags"] & F_LAST) + 1
    assert ends[-1] == len(records)
    starts = np.concatenate(([0], ends[:-1]))
    action = records["action"]
    trades = 0
    for s, e in zip(starts[1:], ends[1:], strict=True):
        ev = records[s:e]
        acts = action[s:e]
        assert (ev["ts_event"] == ev["ts_event"][0]).all()
        if e - s == 1:
            assert acts[0] in (ACTION_ADD, ACTION_CANCEL, ACTION_MODIFY)
            continue
        trades += 1
        assert acts[0] == ACTION_TRADE
        body = acts[1:]
        if body[-1] == ACTION_ADD:  # unfilled rest of the aggressor
            assert ev["order_id"][-1] == ev["order_id"][0]
            assert ev["side"][-1] == ev["side"][0]
            body = body[:-1]
        assert len(body) % 2 == 0
        assert (body[0::2] == ACTION_FILL).all()
        assert np.isin(body[1::2], (ACTION_CANCEL, ACTION_MODIFY)).all()
        fills = ev[1 : 1 + len(body)][0::2]
        # T: side = aggressor, F: side = resting side
        assert (fills["side"] != ev["side"][0]).all()
        assert ev["size"][0] == fills["size"].sum()
        assert ev["price"][0] == fills["price"][0]
    assert trades > 100


def test_fills_followed_by_book_change_and_book_never_crossed(replayed: Replay) -> None:
    assert replayed.fills_checked > 100
    assert replayed.crossed == 0
    assert replayed.orphans == 0


def test_book_shape(replayed: Replay) -> None:
    """A few hundred resting orders per side over several dozen price levels."""
    assert 150 <= np.median(replayed.bids_per_event) <= 1000
    assert 150 <= np.median(replayed.asks_per_event) <= 1000
    assert 30 <= np.median(replayed.levels_per_event) <= 150


def test_deterministic_by_seed(tmp_path: Path) -> None:
    short = PARAMS.model_copy(update={"end": dt.time(9, 31)})
    a = write_synthetic(short, tmp_path / "a.dbn.zst").read_bytes()
    b = write_synthetic(short, tmp_path / "b.dbn.zst").read_bytes()
    c = write_synthetic(short.model_copy(update={"seed": 12}), tmp_path / "c.dbn.zst").read_bytes()
    assert a == b
    assert a != c


def test_second_contract_orphans_and_mid_session_snapshot(tmp_path: Path) -> None:
    params = PARAMS.model_copy(
        update={
            "end": dt.time(9, 31),
            "second_contract": True,
            "mid_session_snapshot": True,
            "orphan_rate": 0.002,
        }
    )
    path = write_synthetic(params, tmp_path / "two.dbn.zst")
    assert set(open_mbo(path).symbols) == {"MNQH6", "MNQM6"}
    everything = read_mbo(path)
    front = read_mbo(path, "MNQH6")
    back = read_mbo(path, "MNQM6")
    assert len(front) + len(back) == len(everything)
    assert set(back["instrument_id"].tolist()) == {params.second_instrument_id}
    assert len(back) < len(front) / 3  # the deferred contract is thinner
    front_prices = front["price"][front["price"] != UNDEF_PRICE]
    back_prices = back["price"][back["price"] != UNDEF_PRICE]
    assert back_prices.min() > front_prices.max() + 100e9  # deferred month at a premium
    orphans = 0
    for contract in (front, back):
        seen = replay(contract)
        orphans += seen.orphans
        assert seen.crossed == 0
        # clear + snapshot at the start and once mid-session, rebuilding the same book
        assert (contract["action"] == ACTION_CLEAR).sum() == 2
        assert seen.book_before_clear[1] == seen.book_after_snapshot[1]
        assert seen.orphans > 0
    total_events = int((everything["flags"] & F_LAST).astype(bool).sum())
    assert orphans < 0.01 * total_events


def test_default_path_is_found_by_capture_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPYMASTER_DATA_ROOT", str(tmp_path))
    capture = CaptureConfig(
        product_type="future_mbo",
        symbol="MNQH6",
        dt="2026-02-06",
        start_time="09:30",
        end_time="09:31",
    )
    path = default_synth_path(capture)
    assert path.name == "synth-mnqh6-20260206.mbo.dbn.zst"
    write_synthetic(PARAMS.model_copy(update={"end": dt.time(9, 30, 20)}), path)
    assert capture_files(capture) == [path]


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        SynthParams(start="10:00", end="09:00")
    with pytest.raises(SpymasterError, match="symbol"):
        SynthParams(symbol="../x")
    assert SynthParams(start="08:50:30").start == dt.time(8, 50, 30)
