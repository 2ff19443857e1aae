"""Pure core of replay: which records a session publishes, cut into bus batches, and pacing.

No I/O beyond reading the DBN files through ``spymaster_shared.dbn``; no asyncio.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spymaster_shared.bus.streams import MAX_BATCH_BYTES
from spymaster_shared.config.pipeline import CaptureConfig
from spymaster_shared.config.runtime import EngineConfig
from spymaster_shared.dbn.batching import split_batches
from spymaster_shared.dbn.reader import iter_mbo, open_mbo
from spymaster_shared.dbn.records import F_LAST, MBO_DTYPE
from spymaster_shared.dbn.sources import capture_files
from spymaster_shared.errors import DbnInputError

READ_CHUNK_RECORDS = 1 << 18  # fixed: batch boundaries (and so batch_seq) depend on it


def check_capture(capture: CaptureConfig) -> list[Path]:
    """The capture's files, refusing a missing file or a symbol absent from every file."""
    files = capture_files(capture)
    for path in files:
        ids = open_mbo(path).instrument_ids(capture.symbol)
        if len(ids):
            return files
    raise DbnInputError(f"symbol {capture.symbol!r} is in none of {[str(f) for f in files]}")


def event_batches(
    chunks: Iterable[np.ndarray], max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[np.ndarray]:
    """Batches of at most ``max_bytes`` cut right after F_LAST, across chunk boundaries.

    A partial event at the end of a chunk is carried into the next one; an event larger than
    ``max_bytes`` (a huge snapshot) is cut at ``max_bytes`` since a bus message cannot hold it.
    """
    max_records = max(1, max_bytes // MBO_DTYPE.itemsize)
    carry = np.empty(0, dtype=MBO_DTYPE)
    for chunk in chunks:
        records = np.concatenate((carry, chunk)) if len(carry) else chunk
        last = np.flatnonzero(records["flags"] & F_LAST)
        if len(last) == 0:
            carry = records
            while len(carry) > max_records:  # an oversized event in progress
                yield carry[:max_records]
                carry = carry[max_records:]
            continue
        end = int(last[-1]) + 1
        for batch in split_batches(records[:end], max_bytes=max_bytes):
            for i in range(0, len(batch), max_records):
                yield batch[i : i + max_records]
        carry = records[end:]
    if len(carry):
        for i in range(0, len(carry), max_records):
            yield carry[i : i + max_records]


def time_sliced(
    batches: Iterable[np.ndarray], capture_start_ns: int, slice_ns: int, bin_ns: int = 0
) -> Iterator[np.ndarray]:
    """Cut paced batches finer: after the capture start a batch spans at most ``slice_ns`` of
    event time (still ending after F_LAST), so a paced replay publishes each event when it is
    due instead of holding a 1 MB batch until its last record is due.

    With ``bin_ns`` (the engine's bin width), the first event of each bin is a batch of its
    own: that event closes the previous bin, and it is published when it is due, not when
    the last event of its slice is (the bin reaches viewers up to ``slice_ns`` sooner).
    """
    start = np.uint64(max(capture_start_ns, 0))
    for batch in batches:
        ts = batch["ts_event"]
        if len(batch) == 0 or ts[-1] < start:
            yield batch
            continue
        # slice index of each record (warmup records share the first slice)
        since = np.maximum(ts, start) - start
        slot = since // np.uint64(slice_ns)
        ends = np.flatnonzero(batch["flags"] & F_LAST)
        # events are grouped by the slot of their last record: cut after the last event
        # ending in each slot
        cut = ends[:-1][slot[ends[1:]] > slot[ends[:-1]]]
        if bin_ns > 0 and len(ends) > 1:
            # ... and after the first event ending in each bin (the one that closes the
            # previous bin)
            bins = since[ends] // np.uint64(bin_ns)
            closing = ends[1:][bins[1:] > bins[:-1]]
            cut = np.union1d(cut, closing[closing < ends[-1]])
        lo = 0
        for c in cut:
            yield batch[lo : c + 1]
            lo = int(c) + 1
        if lo < len(batch):
            yield batch[lo:]


@dataclass
class Pacer:
    """Wall-clock pacing by ``ts_event``: ``speed`` x real time from the capture start.

    Records before the capture start (warmup and the snapshot before it) are not paced.
    ``speed == 0`` never waits. The schedule is anchored at the first paced batch: event time
    ``anchor_ts`` is due at wall time ``anchor_wall`` (monotonic; ``anchor_wall_ns`` is the
    same instant as ``time.time_ns()``), ``anchor_ts`` being the capture start, or the batch's
    first record when that is later (a restarted replay resumes in real time, it does not
    wait out what it had already published).
    """

    speed: float
    capture_start_ns: int
    anchor_wall: float | None = None
    anchor_ts: int = 0
    anchor_wall_ns: int = 0

    def delay(self, ts_event: int, now: float, first_ts: int | None = None) -> float:
        """Seconds to wait before publishing a batch whose last record has ``ts_event``
        (and whose first record has ``first_ts``)."""
        if self.speed <= 0 or ts_event < self.capture_start_ns:
            return 0.0
        if self.anchor_wall is None:
            self.anchor_wall = now
            self.anchor_wall_ns = time.time_ns()
            self.anchor_ts = max(self.capture_start_ns, first_ts or 0)
        due = self.anchor_wall + (ts_event - self.anchor_ts) / 1e9 / self.speed
        return max(0.0, due - now)

    def due_wall_ns(self, ts_event: int) -> int:
        """Wall clock (``time.time_ns``) at which event time ``ts_event`` is due; 0 before
        the anchor."""
        if self.anchor_wall is None or self.speed <= 0:
            return 0
        return self.anchor_wall_ns + int((ts_event - self.anchor_ts) / self.speed)


def capture_records(files: list[Path], cfg: EngineConfig) -> Iterator[np.ndarray]:
    """Records of the capture's symbol from the file start (the book needs the snapshot) to
    the first event at or after the capture end, inclusive (that event closes the last bin)."""
    end_ns = cfg.capture_end_ns
    for path in files:
        for chunk in iter_mbo(path, cfg.symbol, chunk_records=READ_CHUNK_RECORDS):
            late = np.flatnonzero(chunk["ts_event"] >= np.uint64(end_ns))
            if len(late) == 0:
                yield chunk
                continue
            closing = np.flatnonzero(chunk["flags"][late[0] :] & F_LAST)
            stop = int(late[0] + closing[0]) + 1 if len(closing) else len(chunk)
            yield chunk[:stop]
            if len(closing):
                return


def warmup_progress(ts_event: int, first_ts: int, capture_start_ns: int) -> float:
    """Fraction of the pre-capture records already published, in [0, 1]."""
    span = capture_start_ns - first_ts
    if span <= 0:
        return 1.0
    return float(min(1.0, max(0.0, (ts_event - first_ts) / span)))
