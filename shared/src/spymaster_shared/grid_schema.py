"""The grid, declared once: per-bin header fields and per-cell (price tick k) columns.

Column names are the spec's, end to end (engine, dataset, bus, gateway, frontend).
A bin's grid is ``2R+1`` rows, ``k = -R..+R`` ticks relative to spot. See ``docs/engine.md``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# Per-bin header (bins.parquet, grid_update JSON, bus bin header).
BIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("ts_ns", "i8"),  # = bin_end_ns: the instant the bin's state is observed
    ("bin_seq", "i8"),  # 0 at the capture start
    ("bin_start_ns", "i8"),
    ("bin_end_ns", "i8"),
    ("bin_event_count", "i8"),  # F_LAST-terminated events applied in the bin
    ("event_id", "i8"),  # running event counter at bin close
    ("mid_price", "f8"),  # dollars; 0.0 when the book is one-sided/empty
    ("spot_ref_price_int", "i8"),  # spot = mid rounded to the bucket grid, 1e-9 units
    ("best_bid_price_int", "i8"),  # 0 when no bid
    ("best_ask_price_int", "i8"),  # 0 when no ask
    ("book_valid", "?"),
)

# Per-cell feature columns (grid_clean.parquet adds bin_seq; the Arrow IPC frame is these).
CELL_FIELDS: tuple[tuple[str, str], ...] = (
    ("k", "i4"),
    ("pressure_variant", "f8"),
    ("vacuum_variant", "f8"),
    ("add_mass", "f8"),
    ("pull_mass", "f8"),
    ("fill_mass", "f8"),
    ("rest_depth", "f8"),
    ("bid_depth", "f8"),
    ("ask_depth", "f8"),
    ("v_add", "f8"),
    ("v_pull", "f8"),
    ("v_fill", "f8"),
    ("v_rest_depth", "f8"),
    ("v_bid_depth", "f8"),
    ("v_ask_depth", "f8"),
    ("a_add", "f8"),
    ("a_pull", "f8"),
    ("a_fill", "f8"),
    ("a_rest_depth", "f8"),
    ("a_bid_depth", "f8"),
    ("a_ask_depth", "f8"),
    ("j_add", "f8"),
    ("j_pull", "f8"),
    ("j_fill", "f8"),
    ("j_rest_depth", "f8"),
    ("j_bid_depth", "f8"),
    ("j_ask_depth", "f8"),
    ("composite", "f8"),
    ("composite_d1", "f8"),
    ("composite_d2", "f8"),
    ("composite_d3", "f8"),
    ("best_ask_move_ticks", "i4"),
    ("best_bid_move_ticks", "i4"),
    ("ask_reprice_sign", "i1"),
    ("bid_reprice_sign", "i1"),
    ("microstate_id", "i1"),
    ("state5_code", "i1"),
    ("chase_up_flag", "i1"),
    ("chase_down_flag", "i1"),
    ("last_event_id", "i8"),
)

# Scored columns (never in grid_clean.parquet). Sentinels when no ServingSpec is active.
SCORE_FIELDS: tuple[tuple[str, str], ...] = (
    ("flow_score", "f8"),
    ("flow_state_code", "i1"),
    ("signal_score", "f8"),
)
SCORE_SENTINELS: dict[str, float | int] = {
    "flow_score": float("nan"),
    "flow_state_code": -1,
    "signal_score": float("nan"),
}

BIN_NAMES = tuple(n for n, _ in BIN_FIELDS)
CELL_NAMES = tuple(n for n, _ in CELL_FIELDS)
SCORE_NAMES = tuple(n for n, _ in SCORE_FIELDS)

_ARROW = {
    "i8": pa.int64(),
    "i4": pa.int32(),
    "i1": pa.int8(),
    "f8": pa.float64(),
    "?": pa.bool_(),
}


def _schema(fields: tuple[tuple[str, str], ...]) -> pa.Schema:
    return pa.schema([pa.field(n, _ARROW[t], nullable=False) for n, t in fields])


BIN_SCHEMA = _schema(BIN_FIELDS)
CELL_SCHEMA = _schema(CELL_FIELDS)
# grid_clean.parquet: one row per (bin, k)
GRID_CLEAN_SCHEMA = _schema((("bin_seq", "i8"), *CELL_FIELDS))
# The per-bin Arrow IPC frame sent to WebSocket clients: features + scored columns.
FRAME_SCHEMA = _schema((*CELL_FIELDS, *SCORE_FIELDS))


def numpy_dtype(code: str) -> np.dtype:
    return np.dtype(code)


def cell_dtype(name: str) -> np.dtype:
    return np.dtype(dict(CELL_FIELDS)[name])


def bin_dtype(name: str) -> np.dtype:
    return np.dtype(dict(BIN_FIELDS)[name])
