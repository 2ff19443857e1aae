"""Signal interfaces and the shared machinery of kernel-backed signals.

A :class:`Signal` is one configured signal for one grid geometry. ``incremental()`` gives a
fresh per-bin state machine (live scorer); ``batch()`` runs all bins at once (harness). Both
must return identical values to the bit; kernel-backed signals get that by construction:
``batch`` is a numba loop over the very ``step`` kernel ``update`` calls.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

FLOW_SCORE = "flow_score"


def ms_to_bins(ms: int, cell_width_ms: int, *, minimum: int = 1) -> int:
    """Milliseconds -> whole bins, rounded half up, at least ``minimum``."""
    return max(minimum, (int(ms) + cell_width_ms // 2) // cell_width_ms)


def band_ticks(ticks: int, n_cells: int) -> int:
    """A band half-width in ticks, clipped to the grid radius R = (n_cells - 1) / 2."""
    return max(1, min(int(ticks), (n_cells - 1) // 2))


class IncrementalSignal(ABC):
    """Per-bin state machine of a signal."""

    @abstractmethod
    def update(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bin: Mapping[str, Any],
    ) -> float:
        """Consume one bin (cell columns (n_cells,), its flow_score, its header); the value."""


class Signal(ABC):
    """A configured signal: ``name``, resolved ``params``, an incremental and a batch form."""

    name: str
    params: dict[str, Any]

    @abstractmethod
    def incremental(self) -> IncrementalSignal:
        """A fresh incremental state machine (nothing seen yet)."""

    @abstractmethod
    def batch(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        """Signal value of every bin, float64 (n_bins,); equal to ``incremental`` bin by bin."""

    def input_columns(self) -> tuple[str, ...] | None:
        """The cell columns ``batch`` reads (``flow_score`` is not one); None = possibly any,
        so a caller shipping grids elsewhere (a sweep) must send them all. Default: None."""
        return None

    def batch_memo(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
        memo: dict[Any, np.ndarray],
    ) -> np.ndarray:
        """``batch``, reusing series already computed into ``memo``; same values to the bit.

        ``memo`` belongs to one (cells, flow_score, bins) input: a caller running many
        configured signals over the same input (a sweep) passes the same dict to each, so a
        series fully determined by (signal class, params, geometry) -- e.g. a composite's
        component whose params are not swept -- is computed once. Series in ``memo`` are
        read-only. Default: no reuse.
        """
        return self.batch(cells, flow_score, bins)


class KernelSignal(Signal):
    """A signal computed by a numba ``step`` kernel and its ``run`` batch twin.

    Subclasses set ``inputs`` (cell column names, or ``flow_score``), ``step`` / ``run``
    (kernels with signatures ``step(*rows, fstate, buf, p)`` and
    ``run(*columns, fstate, buf, p, out)``), and implement ``_kernel_params`` (the float
    vector ``p``) and ``_state`` (fresh ``fstate`` and ``buf`` arrays).
    """

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]]
    step: ClassVar[Callable[..., float]]
    run: ClassVar[Callable[..., None]]

    def __init__(self, params: dict[str, Any], *, cell_width_ms: int, n_cells: int):
        self.params = params
        self.cell_width_ms = cell_width_ms
        self.n_cells = n_cells
        self._p = np.asarray(self._kernel_params(), dtype=np.float64)

    def _kernel_params(self) -> list[float]:
        raise NotImplementedError

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def incremental(self) -> IncrementalSignal:
        return _KernelIncremental(self)

    def batch(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
    ) -> np.ndarray:
        columns = [self._input(cells, flow_score, name, 2) for name in self.inputs]
        n_bins = columns[0].shape[0]
        out = np.empty(n_bins, dtype=np.float64)
        fstate, buf = self._state()
        type(self).run(*columns, fstate, buf, self._p, out)
        return out

    def input_columns(self) -> tuple[str, ...]:
        return tuple(name for name in self.inputs if name != FLOW_SCORE)

    def batch_memo(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bins: Mapping[str, np.ndarray],
        memo: dict[Any, np.ndarray],
    ) -> np.ndarray:
        # The kernel, its inputs and its state all follow from the class, params and geometry.
        key = (
            type(self),
            json.dumps(self.params, sort_keys=True, default=repr),
            self.cell_width_ms,
            self.n_cells,
        )
        out = memo.get(key)
        if out is None:
            out = self.batch(cells, flow_score, bins)
            out.flags.writeable = False
            memo[key] = out
        return out

    def _input(
        self, cells: Mapping[str, np.ndarray], flow_score: np.ndarray, name: str, ndim: int
    ) -> np.ndarray:
        if name == FLOW_SCORE:
            x = flow_score
        else:
            try:
                x = cells[name]
            except KeyError:
                raise ValueError(f"signal {self.name!r} needs cell column {name!r}") from None
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != ndim or x.shape[-1] != self.n_cells:
            want = "(n_cells,)" if ndim == 1 else "(n_bins, n_cells)"
            raise ValueError(
                f"signal {self.name!r}: {name} must have shape {want} with n_cells="
                f"{self.n_cells}, got {x.shape}"
            )
        return x


class _KernelIncremental(IncrementalSignal):
    def __init__(self, signal: KernelSignal):
        self._signal = signal
        self._step = type(signal).step
        self._fstate, self._buf = signal._state()

    def update(
        self,
        cells: Mapping[str, np.ndarray],
        flow_score: np.ndarray,
        bin: Mapping[str, Any],
    ) -> float:
        sig = self._signal
        rows = [sig._input(cells, flow_score, name, 1) for name in sig.inputs]
        return float(self._step(*rows, self._fstate, self._buf, sig._p))
