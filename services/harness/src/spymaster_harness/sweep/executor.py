"""Runs a SweepPlan on Ray: the dataset goes to the object store once, the robust z-scores
once per scoring window, then chunks of many combinations per task (each blends its scoring
point's flow score from its window's z-scores), with a progress bar.

Fault tolerance: tasks are retried when their worker dies (``max_retries``); each chunk
writes one results part keyed by its run ids (atomic replace), so a retried chunk never
duplicates or loses rows.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spymaster_harness.errors import SweepError
from spymaster_harness.sweep import chunk as chunk_mod
from spymaster_harness.sweep.plan import SweepPlan
from spymaster_shared.config import ScoringConfig
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.paths import results_dir

TASK_RETRIES = 3


@dataclass(frozen=True)
class SweepResult:
    rows: list[dict[str, Any]]  # one per (run, threshold), no series
    n_chunks: int
    n_workers: int
    wall_seconds: float


def plan_chunks(plan: SweepPlan, n_workers: int) -> list[tuple[int, list[int]]]:
    """(scoring index, signal indices) per task: at least ~2 tasks per worker when possible,
    never splitting finer than one signal point (each signal point is one series).

    A chunk holds all of a scoring point's signal points unless there are fewer than two
    scoring points per worker: its flow score (blend) and the series its signal points share
    are computed once per chunk, so every split repeats them."""
    n_scoring, n_signal = len(plan.scoring_points), len(plan.signal_points)
    per_scoring = max(1, min(n_signal, math.ceil(2 * n_workers / max(n_scoring, 1))))
    size = math.ceil(n_signal / per_scoring)
    return [
        (s, list(range(start, min(start + size, n_signal))))
        for s in range(n_scoring)
        for start in range(0, n_signal, size)
    ]


def plan_zscore_parts(plan: SweepPlan, n_workers: int) -> list[tuple[int, int, int]]:
    """(window index, first cell, end cell) per z-score task: one task per distinct window,
    its cells split into equal ranges only when there are fewer windows than workers (cells
    are independent, so the parts are the whole to the bit)."""
    n_windows = len(plan.zscore_windows())
    per_window = max(1, min(plan.n_cells, math.ceil(n_workers / n_windows)))
    edges = [round(i * plan.n_cells / per_window) for i in range(per_window + 1)]
    return [(w, edges[i], edges[i + 1]) for w in range(n_windows) for i in range(per_window)]


def _remote_functions() -> tuple[Any, Any]:
    import ray

    @ray.remote(max_retries=TASK_RETRIES)
    def zscore_task(
        data: dict[str, Any], scoring: ScoringConfig, start: int, stop: int
    ) -> np.ndarray:
        return chunk_mod.zscore_part(data["cells"], scoring, start, stop)

    @ray.remote(max_retries=TASK_RETRIES)
    def eval_task(
        plan: SweepPlan,
        data: dict[str, Any],
        scoring_index: int,
        signal_indices: list[int],
        results_root: str,
        *z_parts: np.ndarray,
    ) -> list[dict[str, Any]]:
        flow_score = chunk_mod.blend_flow_score(list(z_parts), plan.scoring_points[scoring_index])
        return chunk_mod.evaluate_chunk(
            plan, data, flow_score, scoring_index, signal_indices, results_root
        )

    return zscore_task, eval_task


def warm_up_workers(plan: SweepPlan, n_workers: int) -> list[Any]:
    """Start one warm-up task per worker (``chunk.warm_up``: imports and numba kernel loads,
    ~2-3 s in a fresh worker) without waiting, so that it overlaps the driver's own start-up
    (the dataset load) instead of delaying the sweep's first tasks. Best effort: a warm-up
    that fails only leaves its worker cold. Returns the task refs (True when warmed)."""
    import ray

    @ray.remote(num_cpus=1, max_retries=0)
    def warm_task(plan: SweepPlan) -> bool:
        try:
            chunk_mod.warm_up(plan)
        except Exception:
            return False
        return True

    plan_ref = ray.put(plan)
    return [warm_task.remote(plan_ref) for _ in range(n_workers)]


def run_plan(
    plan: SweepPlan,
    frames: GridFrames,
    *,
    n_workers: int,
    results_root: Path | None = None,
    progress: bool = True,
) -> SweepResult:
    """Execute every chunk on the already-initialised Ray; returns the summary rows."""
    import ray

    if frames.n_rows != plan.n_cells:
        raise SweepError(
            f"dataset {plan.dataset_id} has {frames.n_rows} cells per bin, plan expects "
            f"{plan.n_cells}"
        )
    t0 = time.perf_counter()
    root = str((results_root if results_root is not None else results_dir()).resolve())
    zscore_task, eval_task = _remote_functions()
    # The dataset reaches the object store once (only the cell columns the tasks read);
    # workers map the numpy buffers zero-copy.
    columns = chunk_mod.input_columns(plan)
    cells = (
        frames.cells
        if columns is None
        else {c: frames.cells[c] for c in columns if c in frames.cells}
    )
    data_ref = ray.put({"bins": frames.bins, "cells": cells})
    plan_ref = ray.put(plan)
    # Robust z-scores once per window, each part put in the object store once by its task
    # (any scoring point of the window will do: only the window fields are used).
    window_of = [plan.zscore_window_index(s) for s in range(len(plan.scoring_points))]
    z_refs: dict[int, list[Any]] = {}
    for w, start, stop in plan_zscore_parts(plan, n_workers):
        scoring = plan.scoring_points[window_of.index(w)]
        z_refs.setdefault(w, []).append(zscore_task.remote(data_ref, scoring, start, stop))
    # Chunks in window order, so the first chunks wait only for the first z-scores.
    chunks = sorted(plan_chunks(plan, n_workers), key=lambda ch: window_of[ch[0]])
    pending = {
        eval_task.remote(plan_ref, data_ref, s, sig, root, *z_refs[window_of[s]]): (s, sig)
        for s, sig in chunks
    }
    chunks_left = Counter(window_of[s] for s, _ in chunks)
    rows: list[dict[str, Any]] = []
    bar = _progress(progress, len(chunks), plan.n_runs)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                s, sig = pending.pop(ref)
                try:
                    rows.extend(ray.get(ref))
                except Exception as exc:
                    raise SweepError(
                        f"chunk (scoring point {s}, signal points {sig}) failed after "
                        f"{TASK_RETRIES} retries: {_first_line(exc)}"
                    ) from exc
                chunks_left[window_of[s]] -= 1
                if not chunks_left[window_of[s]]:
                    del z_refs[window_of[s]]  # the window's z-scores may leave the store
                if bar is not None:
                    bar.advance()
    finally:
        if bar is not None:
            bar.close()
        for ref in pending:
            ray.cancel(ref, force=True)
    return SweepResult(rows, len(chunks), n_workers, time.perf_counter() - t0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return next((line for line in reversed(text) if line.strip()), type(exc).__name__)


class _Bar:
    def __init__(self, n_chunks: int, n_runs: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn(f"sweep: {n_runs} runs in"),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            BarColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task = self._progress.add_task("chunks", total=n_chunks)
        self._progress.start()

    def advance(self) -> None:
        self._progress.advance(self._task)

    def close(self) -> None:
        self._progress.stop()


def _progress(enabled: bool, n_chunks: int, n_runs: int) -> _Bar | None:
    return _Bar(n_chunks, n_runs) if enabled else None
