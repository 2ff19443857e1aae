"""GridFrames: consecutive bins as column arrays; the engine output and a dataset content.

``bins[name]`` has shape ``(n_bins,)`` for every name in ``BIN_NAMES``;
``cells[name]`` has shape ``(n_bins, 2R+1)`` for every name in ``CELL_NAMES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from spymaster_shared.grid_schema import (
    BIN_FIELDS,
    BIN_SCHEMA,
    CELL_FIELDS,
    FRAME_SCHEMA,
    GRID_CLEAN_SCHEMA,
    SCORE_FIELDS,
    SCORE_SENTINELS,
)


@dataclass(frozen=True)
class GridFrames:
    bins: dict[str, np.ndarray]
    cells: dict[str, np.ndarray]

    @property
    def n_bins(self) -> int:
        return len(self.bins["bin_seq"])

    @property
    def n_rows(self) -> int:
        return self.cells["k"].shape[1] if self.n_bins else 0

    @staticmethod
    def empty(n_rows: int) -> GridFrames:
        return GridFrames(
            bins={n: np.empty(0, dtype=t) for n, t in BIN_FIELDS},
            cells={n: np.empty((0, n_rows), dtype=t) for n, t in CELL_FIELDS},
        )

    @staticmethod
    def concat(parts: Sequence[GridFrames], n_rows: int) -> GridFrames:
        parts = [p for p in parts if p.n_bins]
        if not parts:
            return GridFrames.empty(n_rows)
        if len(parts) == 1:
            return parts[0]
        return GridFrames(
            bins={n: np.concatenate([p.bins[n] for p in parts]) for n, _ in BIN_FIELDS},
            cells={n: np.concatenate([p.cells[n] for p in parts]) for n, _ in CELL_FIELDS},
        )

    def slice(self, start: int, stop: int) -> GridFrames:
        return GridFrames(
            bins={n: a[start:stop] for n, a in self.bins.items()},
            cells={n: a[start:stop] for n, a in self.cells.items()},
        )

    def bins_table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [pa.array(self.bins[n]) for n, _ in BIN_FIELDS], schema=BIN_SCHEMA
        )

    def grid_clean_table(self) -> pa.Table:
        """One row per (bin, k), bins in order, k ascending."""
        rows = self.n_rows
        arrays = [pa.array(np.repeat(self.bins["bin_seq"], rows))]
        arrays += [pa.array(self.cells[n].reshape(-1)) for n, _ in CELL_FIELDS]
        return pa.Table.from_arrays(arrays, schema=GRID_CLEAN_SCHEMA)

    def frame_batch(
        self,
        i: int,
        flow_score: np.ndarray | None = None,
        flow_state_code: np.ndarray | None = None,
        signal_score: float | None = None,
    ) -> pa.RecordBatch:
        """The per-bin Arrow frame (2R+1 rows) of bin ``i``: features + scored columns."""
        rows = self.n_rows
        scored = {
            "flow_score": flow_score,
            "flow_state_code": flow_state_code,
            "signal_score": None if signal_score is None else np.full(rows, signal_score),
        }
        arrays = [pa.array(self.cells[n][i]) for n, _ in CELL_FIELDS]
        for name, code in SCORE_FIELDS:
            value = scored[name]
            if value is None:
                value = np.full(rows, SCORE_SENTINELS[name], dtype=code)
            arrays.append(pa.array(np.asarray(value, dtype=code)))
        return pa.RecordBatch.from_arrays(arrays, schema=FRAME_SCHEMA)

    @staticmethod
    def from_tables(bins: pa.Table, grid_clean: pa.Table) -> GridFrames:
        n = bins.num_rows
        rows = grid_clean.num_rows // n if n else 0
        return GridFrames(
            bins={n_: bins.column(n_).to_numpy() for n_, _ in BIN_FIELDS},
            cells={n_: grid_clean.column(n_).to_numpy().reshape(n, rows) for n_, _ in CELL_FIELDS},
        )
