"""``harness run``: validate, connect, get the grids, sweep on Ray, persist, track.

Order matters: everything that can fail fast (config, tracking server, Ray address) is
checked before the dataset is generated or any chunk runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spymaster_harness.ray_runtime import init_ray
from spymaster_harness.sweep.executor import SweepResult, run_plan, warm_up_workers
from spymaster_harness.sweep.plan import SweepPlan, load_plan
from spymaster_harness.tracking import open_tracker
from spymaster_shared.errors import ConfigError
from spymaster_shared.grid_frames import GridFrames


@dataclass(frozen=True)
class RunSummary:
    plan: SweepPlan
    result: SweepResult
    mlflow_run_id: str | None
    dataset_seconds: float


def load_frames(
    plan: SweepPlan,
    *,
    source: str = "dataset",
    nats_url: str | None = None,
    session: str | None = None,
    progress: bool = True,
) -> tuple[str, GridFrames]:
    """The grids to evaluate: the on-disk dataset (generated first if missing), or the
    grids a session recorded on JetStream (``vp.grid.<session>``)."""
    if source == "dataset":
        from spymaster_harness.datasets import ensure_dataset, load_dataset

        dataset_id = ensure_dataset(plan.pipeline, progress=progress)
        return dataset_id, load_dataset(dataset_id).frames
    if source == "jetstream":
        if not session:
            raise ConfigError("--session is required with --source jetstream", field="session")
        from spymaster_harness.grid_source import read_session_grids

        frames = read_session_grids(nats_url, session, progress=progress)
        return session, frames
    raise ConfigError(f"unknown source {source!r}; use dataset or jetstream", field="source")


def summary_metrics(rows: list[dict[str, Any]], min_signals: int) -> dict[str, float]:
    ok = [r for r in rows if r["n_signals"] >= min_signals]
    out: dict[str, float] = {
        "n_rows": float(len(rows)),
        "n_runs": float(len({r["run_id"] for r in rows})),
        "n_rows_min_signals": float(len(ok)),
    }
    for key in ("tp_rate", "mean_pnl_ticks", "events_per_hour"):
        out[f"best_{key}"] = max((r[key] for r in ok), default=0.0)
    return out


def run_experiment(
    experiment: str | Path,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    source: str = "dataset",
    nats_url: str | None = None,
    session: str | None = None,
    results_root: Path | None = None,
    progress: bool = True,
) -> RunSummary:
    plan = load_plan(experiment)
    spec = plan.experiment
    tracker = open_tracker(spec.tracking)
    n_workers = init_ray(
        workers=workers, max_workers=spec.parallel.max_workers, address=ray_address
    )
    warm_up_workers(plan, n_workers)  # the workers load modules and kernels meanwhile
    t0 = time.perf_counter()
    dataset_id, frames = load_frames(
        plan, source=source, nats_url=nats_url, session=session, progress=progress
    )
    if dataset_id != plan.dataset_id:
        from dataclasses import replace

        plan = replace(plan, dataset_id=dataset_id, _run_ids={})
    dataset_seconds = time.perf_counter() - t0
    result = run_plan(
        plan, frames, n_workers=n_workers, results_root=results_root, progress=progress
    )
    mlflow_run_id = None
    if tracker is not None:
        mlflow_run_id = tracker.log_sweep(
            run_name=f"{spec.name}@{plan.dataset_id}",
            params={
                "experiment": spec.name,
                "experiment_file": plan.experiment_file,
                "serving": plan.serving.name,
                "pipeline": plan.pipeline.name,
                "dataset_id": plan.dataset_id,
                "signals": ",".join(sorted({p.name for p in plan.signal_points})),
                "n_scoring_points": len(plan.scoring_points),
                "n_signal_points": len(plan.signal_points),
                "tp_ticks": list(spec.eval.tp_ticks),
                "sl_ticks": list(spec.eval.sl_ticks),
                "cooldown_bins": list(plan.cooldowns),
                "thresholds": list(plan.thresholds),
                "max_hold_bins": spec.eval.max_hold_bins,
                "warmup_bins": spec.eval.warmup_bins,
                "n_runs": plan.n_runs,
                "n_workers": n_workers,
                "source": source,
            },
            summary={
                **summary_metrics(result.rows, spec.eval.min_signals),
                "wall_seconds": result.wall_seconds,
                "n_chunks": float(result.n_chunks),
            },
            rows=result.rows,
            min_signals=spec.eval.min_signals,
            tags={"spymaster.dataset_id": plan.dataset_id, "spymaster.experiment": spec.name},
        )
    return RunSummary(plan, result, mlflow_run_id, dataset_seconds)
