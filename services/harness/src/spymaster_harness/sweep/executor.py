"""Runs a SweepPlan on Ray: the dataset goes to the object store once, scoring once per
scoring point, then chunks of many combinations per task, with a progress bar.

Fault tolerance: tasks are retried when their worker dies (``max_retries``); each chunk
writes one results part keyed by its run ids (atomic replace), so a retried chunk never
duplicates or loses rows.
"""

from __future__ import annotations

import math
import time
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
    never splitting finer than one signal point (each signal point is one series)."""
    n_scoring, n_signal = len(plan.scoring_points), len(plan.signal_points)
    per_scoring = max(1, min(n_signal, math.ceil(2 * n_workers / max(n_scoring, 1))))
    size = math.ceil(n_signal / per_scoring)
    return [
        (s, list(range(start, min(start + size, n_signal))))
        for s in range(n_scoring)
        for start in range(0, n_signal, size)
    ]


def _remote_functions() -> tuple[Any, Any]:
    import ray

    @ray.remote(max_retries=TASK_RETRIES)
    def score_task(data: dict[str, Any], scoring: ScoringConfig) -> np.ndarray:
        return chunk_mod.score_cells(data["cells"], scoring)

    @ray.remote(max_retries=TASK_RETRIES)
    def eval_task(
        plan: SweepPlan,
        data: dict[str, Any],
        flow_score: np.ndarray,
        scoring_index: int,
        signal_indices: list[int],
        results_root: str,
    ) -> list[dict[str, Any]]:
        return chunk_mod.evaluate_chunk(
            plan, data, flow_score, scoring_index, signal_indices, results_root
        )

    return score_task, eval_task


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
    score_task, eval_task = _remote_functions()
    # The dataset reaches the object store once; workers map the numpy buffers zero-copy.
    data_ref = ray.put({"bins": frames.bins, "cells": frames.cells})
    plan_ref = ray.put(plan)
    score_refs = [score_task.remote(data_ref, s) for s in plan.scoring_points]
    chunks = plan_chunks(plan, n_workers)
    pending = {
        eval_task.remote(plan_ref, data_ref, score_refs[s], s, sig, root): (s, sig)
        for s, sig in chunks
    }
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
