"""Event-boundary batching: vectorised functions against a slow pure-Python twin."""

from __future__ import annotations

import numpy as np
import pytest

from spymaster_shared.dbn.batching import event_ends, split_batches
from spymaster_shared.dbn.records import F_LAST, F_SNAPSHOT, MBO_DTYPE

REC = MBO_DTYPE.itemsize


def records_with_flags(flags: list[int]) -> np.ndarray:
    records = np.zeros(len(flags), dtype=MBO_DTYPE)
    records["flags"] = flags
    records["sequence"] = np.arange(len(flags))
    return records


def twin_split(flags: list[int], max_bytes: int) -> list[int]:
    """Greedy batch lengths, one record at a time: cut after F_LAST when the next event
    would not fit."""
    max_records = max(1, max_bytes // REC)
    events, current = [], 0
    for f in flags:
        current += 1
        if f & F_LAST:
            events.append(current)
            current = 0
    if current:
        events.append(current)
    batches, size = [], 0
    for e in events:
        if size and size + e > max_records:
            batches.append(size)
            size = 0
        size += e
    if size:
        batches.append(size)
    return batches


def test_event_ends() -> None:
    records = records_with_flags([0, F_LAST, F_SNAPSHOT | F_LAST, 0, 0, F_LAST, 0])
    assert event_ends(records).tolist() == [2, 3, 6]
    assert event_ends(records_with_flags([])).tolist() == []


def test_cuts_only_after_f_last() -> None:
    flags = [0, 0, F_LAST] * 10
    batches = split_batches(records_with_flags(flags), max_bytes=7 * REC)
    assert [len(b) for b in batches] == [6] * 5
    assert all(b["flags"][-1] & F_LAST for b in batches)


def test_trailing_partial_event_stays_in_last_batch() -> None:
    batches = split_batches(records_with_flags([F_LAST, 0, F_LAST, 0, 0]), max_bytes=10 * REC)
    assert [len(b) for b in batches] == [5]


def test_oversized_event_is_its_own_batch() -> None:
    flags = [F_LAST] + [0] * 20 + [F_LAST, F_LAST]
    batches = split_batches(records_with_flags(flags), max_bytes=5 * REC)
    assert [len(b) for b in batches] == [1, 21, 1]


def test_empty_and_views() -> None:
    assert split_batches(records_with_flags([])) == []
    records = records_with_flags([F_LAST] * 4)
    (batch,) = split_batches(records)
    assert np.shares_memory(batch, records)


@pytest.mark.parametrize("seed", range(20))
def test_matches_pure_python_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    flags = np.where(rng.random(n) < rng.uniform(0.05, 0.9), F_LAST, 0).tolist()
    max_bytes = int(rng.integers(1, 200)) * REC + int(rng.integers(0, REC))
    records = records_with_flags(flags)
    batches = split_batches(records, max_bytes=max_bytes)
    assert [len(b) for b in batches] == twin_split(flags, max_bytes)
    np.testing.assert_array_equal(np.concatenate(batches)["sequence"], records["sequence"])
