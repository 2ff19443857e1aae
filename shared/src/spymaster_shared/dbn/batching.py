"""Cut MBO records into batches on event boundaries (right after a record with F_LAST).

Book state is only observable after F_LAST, so a batch never splits an event: replay
publishes these batches, one NATS message each. Pure functions over MBO_DTYPE arrays.
"""

from __future__ import annotations

import numpy as np

from spymaster_shared.dbn.records import F_LAST, MBO_DTYPE


def event_ends(records: np.ndarray) -> np.ndarray:
    """Indices ``i + 1`` of the records carrying F_LAST (exclusive event ends), int64."""
    return (np.flatnonzero(records["flags"] & F_LAST) + 1).astype(np.int64)


def split_batches(records: np.ndarray, max_bytes: int = 1_000_000) -> list[np.ndarray]:
    """Greedy batches of at most ``max_bytes``, each ending right after an F_LAST record.

    A trailing partial event (records after the last F_LAST) goes into the last batch;
    an event larger than ``max_bytes`` is a batch of its own. Batches are views.
    """
    n = len(records)
    if n == 0:
        return []
    max_records = max(1, max_bytes // MBO_DTYPE.itemsize)
    cuts = event_ends(records)
    if len(cuts) == 0 or cuts[-1] != n:
        cuts = np.append(cuts, n)
    batches: list[np.ndarray] = []
    start = 0
    # One iteration per batch (not per record); each step is a binary search.
    while start < n:
        j = int(np.searchsorted(cuts, start + max_records, side="right")) - 1
        if j < 0 or cuts[j] <= start:
            j = int(np.searchsorted(cuts, start, side="right"))  # one oversized event
        end = int(cuts[j])
        batches.append(records[start:end])
        start = end
    return batches
