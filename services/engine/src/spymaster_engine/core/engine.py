"""FeatureEngine: MBO records in, closed bins (GridFrames) out. Pure: no I/O, no asyncio.

The whole state lives in numpy arrays driven by one numba kernel call per slice of records
(:func:`spymaster_engine.core.kernels.process_records`). Semantics: ``docs/engine.md``.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

from spymaster_engine import book_checkpoint
from spymaster_engine.core import kernels
from spymaster_engine.core.chain import ChainBasis
from spymaster_engine.core.layout import (
    BIN_BOOL_COLUMNS,
    BIN_F8_COLUMNS,
    BIN_I8_COLUMNS,
    CF_BAND,
    CF_C1,
    CF_C2,
    CF_C3,
    CF_C4,
    CF_C5,
    CF_C6,
    CF_C7,
    CF_EPS,
    F8_COLUMNS,
    HT_EMPTY,
    I1_COLUMNS,
    I4_COLUMNS,
    I8_COLUMNS,
    IP_BUCKET,
    IP_CAPTURE_START,
    IP_CELL_NS,
    IP_FIRST_SEQ,
    IP_MARGIN,
    IP_N_BINS,
    IP_N_TICKS,
    IP_RADIUS,
    MAX_PUBLISHERS,
    N_CF,
    N_GROUPS,
    N_HV,
    N_IP,
    N_MODES,
    N_SC,
    N_STATS,
    SC_BEST_ASK,
    SC_BEST_BID,
    SC_CLOCK,
    SC_HT_TOMB,
    SC_HT_USED,
    SC_OPEN_SEQ,
    SC_OUT_SCANNED,
    SC_STARTED,
    STAT_NAMES,
)
from spymaster_shared.config.runtime import EngineConfig
from spymaster_shared.dbn.records import MBO_DTYPE
from spymaster_shared.errors import ConfigError, SpymasterError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.grid_schema import BIN_FIELDS, CELL_FIELDS

# Denominator epsilon of composite = (P - V) / (|P| + |V| + EPS), in size units per second.
COMPOSITE_EPS = 1.0
# Bins in one output buffer of process() at most (8192 bins x 101 rows ~ 220 MB).
MAX_BUFFER_BINS = 8192
MIN_TABLE = 1 << 12
# Output arrays from this size on are mapped with their pages populated (_prefaulted).
_PREFAULT_MIN_BYTES = 1 << 24

# State arrays saved in a checkpoint, in this order.
STATE_ARRAYS = (
    "sc",
    "stats",
    "ht_pub",
    "ht_oid",
    "ht_val",
    "depth",
    "y",
    "t_last",
    "last_ev",
    "tob",
    "spec_hist",
    "spec_sums",
    "spec_prev",
)


class EngineStateError(SpymasterError):
    """The engine was used out of order (e.g. ``process`` after ``finish``)."""


@dataclass(frozen=True)
class EngineStats:
    """Counters since the engine started (a restored engine keeps its predecessor's)."""

    records: int
    events: int
    snapshots: int
    adds: int
    cancels: int
    modifies: int
    clears: int
    trades: int
    fills: int
    tob_updates: int
    orphans: int
    duplicate_adds: int
    crossed_events: int
    bad_prices: int
    bad_sides: int
    bad_publishers: int
    out_of_range: int
    reanchors: int
    bins_closed: int
    bins_emitted: int
    fill_qty_matched: int

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


assert tuple(f.name for f in fields(EngineStats)) == STAT_NAMES


def _as_mbo(records: np.ndarray) -> np.ndarray:
    if records.dtype == MBO_DTYPE:
        return records
    if records.dtype.itemsize == MBO_DTYPE.itemsize and records.dtype.names is not None:
        return records.view(MBO_DTYPE)
    if records.dtype == np.uint8 or records.dtype == np.dtype("V56"):
        return np.frombuffer(records.tobytes(), dtype=MBO_DTYPE)
    raise TypeError(f"records must be an array of MBO_DTYPE (56-byte DBN MBO), got {records.dtype}")


class FeatureEngine:
    """Book + per-tick features + grids for one instrument and one PipelineSpec.

    ``process(records)`` returns the capture bins closed by those records; ``finish()``
    closes the rest of the capture window. ``checkpoint()``/``restore()`` round-trip the
    full state (no pickle).
    """

    def __init__(self, cfg: EngineConfig) -> None:
        self.cfg = cfg
        radius = cfg.grid_radius_ticks
        n = cfg.n_absolute_ticks
        if n < 4 * (radius + 1):
            raise ConfigError(
                f"n_absolute_ticks={n} must be at least 4 * (grid_radius_ticks + 1)",
                field="pipeline.n_absolute_ticks",
            )
        if cfg.bucket_price_int <= 0:
            raise ConfigError("bucket size must be positive", field="pipeline.bucket_size_dollars")
        self._basis = ChainBasis(
            cfg.tau_rest_decay, cfg.tau_velocity, cfg.tau_acceleration, cfg.tau_jerk
        )
        rows = cfg.n_grid_rows
        self._rows = rows
        cw = cfg.cell_width_ns
        ip = np.zeros(N_IP, dtype=np.int64)
        ip[IP_N_TICKS] = n
        ip[IP_RADIUS] = radius
        ip[IP_BUCKET] = cfg.bucket_price_int
        ip[IP_CELL_NS] = cw
        ip[IP_CAPTURE_START] = cfg.capture_start_ns
        ip[IP_FIRST_SEQ] = -((cfg.capture_start_ns - cfg.warmup_start_ns) // cw)
        ip[IP_N_BINS] = cfg.n_bins
        ip[IP_MARGIN] = max(n // 8, radius + 1)
        self._ip = ip
        coef = np.zeros(N_CF)
        coef[CF_C1] = cfg.c1_v_add
        coef[CF_C2] = cfg.c2_v_rest_pos
        coef[CF_C3] = cfg.c3_a_add
        coef[CF_C4] = cfg.c4_v_pull
        coef[CF_C5] = cfg.c5_v_fill
        coef[CF_C6] = cfg.c6_v_rest_neg
        coef[CF_C7] = cfg.c7_a_pull
        coef[CF_EPS] = COMPOSITE_EPS
        coef[CF_BAND] = cfg.state5_neutral_band
        self._coef = coef
        self._windows = np.asarray(cfg.spectrum_windows, dtype=np.int64)
        self._weights = np.asarray(cfg.spectrum_rollup_weights, dtype=np.float64)
        if len(self._windows) != len(self._weights):
            raise ConfigError(
                "spectrum_rollup_weights must have one weight per spectrum window",
                field="pipeline.spectrum_rollup_weights",
            )
        self._finished = False
        self._s = self._fresh_state()

    # ---------------------------------------------------------------- state
    def _fresh_state(self) -> dict[str, np.ndarray]:
        n = self.cfg.n_absolute_ticks
        sc = np.zeros(N_SC, dtype=np.int64)
        sc[SC_BEST_BID] = -1
        sc[SC_BEST_ASK] = n
        sc[SC_OUT_SCANNED] = -1
        return {
            "sc": sc,
            "stats": np.zeros(N_STATS, dtype=np.int64),
            "ht_pub": np.full(MIN_TABLE, HT_EMPTY, dtype=np.int64),
            "ht_oid": np.zeros(MIN_TABLE, dtype=np.uint64),
            "ht_val": np.zeros((MIN_TABLE, N_HV), dtype=np.int64),
            "depth": np.zeros((n, 2), dtype=np.int64),
            "y": np.zeros((n, N_GROUPS, N_MODES), dtype=np.float64),
            "t_last": np.zeros(n, dtype=np.int64),
            "last_ev": np.zeros(n, dtype=np.int64),
            "tob": np.zeros((MAX_PUBLISHERS, 2, 2), dtype=np.int64),
            "spec_hist": np.zeros((int(self._windows.max()), self._rows)),
            "spec_sums": np.zeros((len(self._windows), self._rows)),
            "spec_prev": np.zeros((3, self._rows)),
        }

    def _grow_table(self) -> None:
        """Rehash the order table into one at most 1/8 full (drops tombstones)."""
        s = self._s
        used = int(s["sc"][SC_HT_USED])
        new_cap = MIN_TABLE
        while new_cap < 8 * (used + 2):
            new_cap *= 2
        pub = np.full(new_cap, HT_EMPTY, dtype=np.int64)
        oid = np.zeros(new_cap, dtype=np.uint64)
        val = np.zeros((new_cap, N_HV), dtype=np.int64)
        live = kernels.ht_rehash(s["ht_pub"], s["ht_oid"], s["ht_val"], pub, oid, val)
        assert live == used
        s["ht_pub"], s["ht_oid"], s["ht_val"] = pub, oid, val
        s["sc"][SC_HT_TOMB] = 0

    # ---------------------------------------------------------------- public API
    @property
    def stats(self) -> EngineStats:
        return EngineStats(*(int(v) for v in self._s["stats"]))

    @property
    def next_bin_seq(self) -> int:
        """bin_seq of the next bin to close (the open bin); < 0 during warmup."""
        sc = self._s["sc"]
        return int(sc[SC_OPEN_SEQ]) if sc[SC_STARTED] else int(self._ip[IP_FIRST_SEQ])

    @property
    def last_ts_event(self) -> int:
        """The engine clock: the latest event time applied (ns), 0 before any timed event."""
        return int(self._s["sc"][SC_CLOCK])

    @property
    def finished(self) -> bool:
        return self._finished

    def process(self, records: np.ndarray) -> GridFrames:
        """Apply ``records`` (any chunk, may split an event); return the capture bins closed."""
        return self._process(records, None)

    def finish(self) -> GridFrames:
        """End of input: close every remaining bin of the capture window (empty ones too)."""
        return self._finish(None)

    def _process(self, records: np.ndarray, buf: _OutBuffer | None) -> GridFrames:
        if self._finished:
            raise EngineStateError("process() called after finish()")
        recs = _as_mbo(np.asarray(records))
        max_ts = int(recs["ts_event"].max()) if len(recs) else 0
        return self._run(recs, finish=False, max_ts=max_ts, buf=buf)

    def _finish(self, buf: _OutBuffer | None) -> GridFrames:
        if self._finished:
            return GridFrames.empty(self._rows)
        frames = self._run(_EMPTY, finish=True, max_ts=None, buf=buf)
        self._finished = True
        return frames

    def checkpoint(self) -> bytes:
        """The full engine state as versioned bytes (numpy ``.npz``, no pickle)."""
        meta = {"config_version": self.cfg.config_version(), "finished": self._finished}
        return book_checkpoint.dump_state({k: self._s[k] for k in STATE_ARRAYS}, meta)

    @classmethod
    def restore(cls, cfg: EngineConfig, blob: bytes) -> FeatureEngine:
        """An engine continuing exactly where the checkpointed one stopped."""
        eng = cls(cfg)
        expected = {k: (v.dtype, v.shape) for k, v in eng._s.items()}
        arrays, meta = book_checkpoint.load_state(
            blob, expected, config_version=cfg.config_version(), resizable=_RESIZABLE
        )
        eng._s.update(arrays)
        eng._finished = bool(meta.get("finished", False))
        return eng

    # ---------------------------------------------------------------- kernel driver
    def _emittable(self, max_ts: int | None) -> int:
        sc, ip = self._s["sc"], self._ip
        lo = max(int(sc[SC_OPEN_SEQ]) if sc[SC_STARTED] else int(ip[IP_FIRST_SEQ]), 0)
        hi = int(ip[IP_N_BINS]) - 1
        if max_ts is not None:
            cap_start, cw = int(ip[IP_CAPTURE_START]), int(ip[IP_CELL_NS])
            hi = min(hi, (max(max_ts, int(sc[SC_CLOCK])) - cap_start) // cw - 1)
        return max(hi - lo + 1, 0)

    def _run(
        self, recs: np.ndarray, finish: bool, max_ts: int | None, buf: _OutBuffer | None
    ) -> GridFrames:
        """Drive the kernel over ``recs``; bins go into ``buf`` (or fresh buffers sized
        from the chunk's time span). Returns the bins written by this call."""
        s, b = self._s, self._basis
        parts: list[GridFrames] = []
        own = buf is None
        pos = 0
        first = 0 if buf is None else buf.filled
        while True:
            if buf is None:
                buf = _OutBuffer(min(max(self._emittable(max_ts), 1), MAX_BUFFER_BINS), self._rows)
                first = 0
            pos, buf.filled, stop = kernels.process_records(
                recs["ts_event"], recs["order_id"], recs["price"], recs["size"],
                recs["publisher_id"], recs["instrument_id"], recs["flags"], recs["action"],
                recs["side"], pos, finish,
                s["sc"], s["stats"], self._ip, self._coef, b.lam, b.v_mass, b.v_depth,
                b.b_mass, b.b_depth, self._windows, self._weights,
                s["ht_pub"], s["ht_oid"], s["ht_val"], s["depth"], s["y"], s["t_last"],
                s["last_ev"], s["tob"], s["spec_hist"], s["spec_sums"], s["spec_prev"],
                buf.filled, *buf.arrays,
            )  # fmt: skip
            if stop == kernels.STOP_TABLE_FULL:
                self._grow_table()
                continue
            if buf.filled > first:
                parts.append(buf.frames(first, buf.filled, copy=own))
            if stop == kernels.STOP_OUTPUT_FULL:
                if not own:
                    raise EngineStateError("output buffer full")
                buf = None
            else:
                return GridFrames.concat(parts, self._rows)


def _prefaulted(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A zeroed array whose pages are all mapped up front (Linux ``MAP_POPULATE``).

    The grid is ~1 GB per hour of bins: touched page by page, fresh memory costs one page
    fault per page (transparent huge pages: 0.1 s/GB when free ones are at hand, over 2 s/GB
    when the kernel must compact memory on a busy machine); populated in one call it costs a
    steady ~0.3 s/GB. Elsewhere: ``np.zeros``.
    """
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if n < _PREFAULT_MIN_BYTES or not hasattr(mmap, "MAP_POPULATE"):
        return np.zeros(shape, dtype=dtype)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | mmap.MAP_POPULATE
    return np.frombuffer(mmap.mmap(-1, n, flags=flags), dtype=dtype).reshape(shape)


class _OutBuffer:
    """Preallocated output columns for ``n_bins`` bins; the kernel fills rows in order."""

    def __init__(self, n_bins: int, rows: int) -> None:
        self.n_bins = n_bins
        self.filled = 0
        self.arrays = (
            _prefaulted((len(F8_COLUMNS), n_bins, rows), np.float64),
            _prefaulted((len(I4_COLUMNS), n_bins, rows), np.int32),
            _prefaulted((len(I1_COLUMNS), n_bins, rows), np.int8),
            _prefaulted((len(I8_COLUMNS), n_bins, rows), np.int64),
            np.empty((len(BIN_I8_COLUMNS), n_bins), dtype=np.int64),
            np.empty((len(BIN_F8_COLUMNS), n_bins), dtype=np.float64),
            np.empty((len(BIN_BOOL_COLUMNS), n_bins), dtype=np.bool_),
        )

    def frames(self, lo: int, hi: int, copy: bool) -> GridFrames:
        """Bins ``lo:hi`` as GridFrames of views (copied when they would pin a mostly
        unused buffer)."""
        f8, i4, i1, i8, b8, bf, bb = self.arrays
        copy = copy and (hi - lo) * 2 < self.n_bins
        cells: dict[str, np.ndarray] = {}
        bins: dict[str, np.ndarray] = {}
        for arr, names in ((f8, F8_COLUMNS), (i4, I4_COLUMNS), (i1, I1_COLUMNS), (i8, I8_COLUMNS)):
            for j, name in enumerate(names):
                cells[name] = arr[j, lo:hi].copy() if copy else arr[j, lo:hi]
        for arr, names in ((b8, BIN_I8_COLUMNS), (bf, BIN_F8_COLUMNS), (bb, BIN_BOOL_COLUMNS)):
            for j, name in enumerate(names):
                bins[name] = arr[j, lo:hi].copy() if copy else arr[j, lo:hi]
        return GridFrames(
            bins={n: bins[n] for n, _ in BIN_FIELDS}, cells={n: cells[n] for n, _ in CELL_FIELDS}
        )


_RESIZABLE = ("ht_pub", "ht_oid", "ht_val")
_EMPTY = np.zeros(0, dtype=MBO_DTYPE)


def run_engine(
    cfg: EngineConfig, chunks: Iterable[np.ndarray], *, engine: FeatureEngine | None = None
) -> GridFrames:
    """Process every chunk in order, then ``finish()``: the whole capture window's grids.

    Writes straight into one buffer of ``cfg.n_bins`` bins (no concatenation copies).
    ``engine``: run this (fresh) engine instead of a new one, e.g. to read its stats after.
    """
    eng = FeatureEngine(cfg) if engine is None else engine
    buf = _OutBuffer(max(cfg.n_bins, 1), cfg.n_grid_rows)
    for chunk in chunks:
        eng._process(chunk, buf)
    eng._finish(buf)
    return buf.frames(0, buf.filled, copy=False)
