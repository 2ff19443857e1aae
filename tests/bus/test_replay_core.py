"""Pure replay core: event batches across chunks, capture cut, pacing. No bus."""

from __future__ import annotations

import numpy as np

from spymaster_replay.batches import Pacer, event_batches, time_sliced, warmup_progress
from spymaster_shared.dbn.records import F_LAST, MBO_DTYPE


def _records(flags: list[int]) -> np.ndarray:
    r = np.zeros(len(flags), dtype=MBO_DTYPE)
    r["flags"] = flags
    r["ts_event"] = np.arange(len(flags))
    return r


def test_batches_end_after_f_last_across_chunks() -> None:
    rng = np.random.default_rng(3)
    flags = [F_LAST if x else 0 for x in rng.random(5000) < 0.3]
    flags[-1] = F_LAST
    recs = _records(flags)
    chunks = [recs[i : i + 333] for i in range(0, len(recs), 333)]
    batches = list(event_batches(chunks, max_bytes=56 * 100))
    assert np.array_equal(np.concatenate(batches)["ts_event"], recs["ts_event"])
    for b in batches:
        assert len(b) <= 100
        assert b["flags"][-1] & F_LAST


def test_oversized_event_is_cut_and_tail_kept() -> None:
    recs = _records([0] * 250 + [F_LAST] + [0] * 5)
    batches = list(event_batches([recs[:120], recs[120:]], max_bytes=56 * 100))
    assert [len(b) for b in batches] == [100, 100, 51, 5]
    assert np.array_equal(np.concatenate(batches)["ts_event"], recs["ts_event"])


def test_pacer_waits_only_after_capture_start() -> None:
    p = Pacer(speed=2.0, capture_start_ns=1_000_000_000)
    assert p.delay(500, now=10.0) == 0.0  # warmup: as fast as possible
    assert p.delay(1_000_000_000, now=10.0) == 0.0  # anchors
    assert abs(p.delay(3_000_000_000, now=10.5) - 0.5) < 1e-9  # 2 s of events at 2x = 1 s
    assert Pacer(speed=0.0, capture_start_ns=0).delay(10**18, now=0.0) == 0.0


def test_warmup_progress() -> None:
    assert warmup_progress(5, 0, 10) == 0.5
    assert warmup_progress(50, 0, 10) == 1.0


def test_time_slices_cut_after_f_last_and_keep_every_record() -> None:
    recs = _records([F_LAST if i % 3 == 2 else 0 for i in range(300)])
    recs["ts_event"] = np.arange(300) * 1000  # 1 us apart
    out = list(time_sliced([recs], capture_start_ns=100_000, slice_ns=20_000))
    assert np.array_equal(np.concatenate(out)["ts_event"], recs["ts_event"])
    for b in out[:-1]:
        assert b["flags"][-1] & F_LAST
    paced = [b for b in out if b["ts_event"][0] >= 100_000]
    assert all(b["ts_event"][-1] - b["ts_event"][0] < 25_000 for b in paced)
    assert out[0]["ts_event"][0] == 0 and len(out) == 10


def test_the_event_closing_a_bin_is_a_batch_of_its_own() -> None:
    recs = _records([F_LAST if i % 3 == 2 else 0 for i in range(300)])
    recs["ts_event"] = np.arange(300) * 1000 + 500  # 1 us apart
    out = list(time_sliced([recs], capture_start_ns=0, slice_ns=20_000, bin_ns=50_000))
    assert np.array_equal(np.concatenate(out)["ts_event"], recs["ts_event"])
    for b in out[:-1]:
        assert b["flags"][-1] & F_LAST
    # the first event ending at or after each 50 us boundary ends a batch
    for boundary in range(50_000, 300_000, 50_000):
        ends = recs["ts_event"][recs["flags"] & F_LAST > 0]
        closing = ends[ends >= boundary][0]
        assert any(b["ts_event"][-1] == closing for b in out), boundary
        held = [b for b in out if b["ts_event"][0] < boundary <= b["ts_event"][-1]]
        assert all(b["ts_event"][-1] == closing for b in held)


def test_pacer_resumes_in_real_time_and_reports_its_anchor() -> None:
    p = Pacer(speed=1.0, capture_start_ns=1_000_000_000)
    # a restarted replay's first paced batch starts 60 s into the capture: no 60 s wait
    assert p.delay(61_000_000_000, now=5.0, first_ts=60_990_000_000) < 0.011
    assert p.anchor_ts == 60_990_000_000 and p.anchor_wall_ns > 0
    assert p.due_wall_ns(61_990_000_000) == p.anchor_wall_ns + 1_000_000_000
