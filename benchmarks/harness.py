"""Harness benchmark: the reference sweep on local Ray with 1 and with 2 workers.

Input: a synthetic MNQH6 session written by `spymaster synth` covering the default pipeline
(configs/pipelines/mnq_60m_baseline.yaml: 60 minutes, 36,000 bins of 101 rows, plus the
30-minute warmup), materialised once as a dataset; then the sweep of
configs/experiments/ads_pfp_svac_sweep_rr20.yaml (18 scoring points × 16 signal points ×
12 TP/SL = 3,456 evaluations, × 5 thresholds) pointed at that dataset, tracking off.

Each worker count runs in a fresh process with a fresh embedded Ray; the figure is the wall
time of the sweep itself (object-store put, scoring, signals, TP/SL kernel, results writes),
with Ray start-up reported separately. Targets: <= 60 s with 2 workers, >= 1.6x speed-up.

Usage: uv run python benchmarks/harness.py [--workdir DIR] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MARKER = "BENCH-FIGURES "


def _exe(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _prepare(workdir: Path) -> Path:
    """Configs (pipeline over the synthetic file, serving, experiment) under workdir."""
    configs = workdir / "configs"
    if not configs.exists():
        shutil.copytree(REPO / "configs", configs)
    dbn = workdir / "synth-mnqh6-0854-1026.mbo.dbn.zst"
    if not dbn.exists():
        subprocess.run(
            [_exe("spymaster"), "synth", "--symbol", "MNQH6", "--date", "2026-02-06",
             "--start", "08:54", "--end", "10:26", "--seed", "7", "-o", str(dbn)],
            check=True,
        )  # fmt: skip
    pipe = yaml.safe_load((configs / "pipelines/mnq_60m_baseline.yaml").read_text())
    pipe.update(name="bench_mnq_60m")
    pipe["capture"]["source"] = str(dbn)
    (configs / "pipelines/bench_mnq_60m.yaml").write_text(yaml.safe_dump(pipe, sort_keys=False))
    serving = yaml.safe_load((configs / "serving/ads_pfp_svac_baseline.yaml").read_text())
    serving.update(name="bench_serving", pipeline="bench_mnq_60m")
    (configs / "serving/bench_serving.yaml").write_text(yaml.safe_dump(serving, sort_keys=False))
    exp = yaml.safe_load((configs / "experiments/ads_pfp_svac_sweep_rr20.yaml").read_text())
    exp.update(name="bench_rr20", serving="bench_serving", tracking={"backend": "none"})
    path = configs / "experiments/bench_rr20.yaml"
    path.write_text(yaml.safe_dump(exp, sort_keys=False))
    return path


def _child(experiment: Path, workers: int, results: Path) -> dict:
    from spymaster_harness.datasets import ensure_dataset, load_dataset
    from spymaster_harness.ray_runtime import init_ray
    from spymaster_harness.sweep.executor import run_plan
    from spymaster_harness.sweep.plan import load_plan

    plan = load_plan(experiment)
    t0 = time.perf_counter()
    dataset_id = ensure_dataset(plan.pipeline, progress=False)
    frames = load_dataset(dataset_id).frames
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = init_ray(workers=workers, max_workers=workers)
    t_ray = time.perf_counter() - t0
    res = run_plan(plan, frames, n_workers=n, results_root=results, progress=False)
    return {
        "workers": n,
        "dataset_id": dataset_id,
        "n_bins": frames.n_bins,
        "n_cells": frames.n_rows,
        "n_runs": plan.n_runs,
        "n_rows": len(res.rows),
        "n_chunks": res.n_chunks,
        "dataset_load_s": t_data,
        "ray_start_s": t_ray,
        "sweep_s": res.wall_seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/spymaster-bench-harness"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    workdir = args.workdir.resolve()
    os.environ["SPYMASTER_CONFIG_ROOT"] = str(workdir / "configs")
    os.environ["SPYMASTER_DATA_ROOT"] = str(workdir / "lake")
    experiment = workdir / "configs/experiments/bench_rr20.yaml"
    if args.child is not None:
        results = workdir / f"results-{args.child}w-{time.time_ns()}"
        print(MARKER + json.dumps(_child(experiment, args.child, results)), flush=True)
        shutil.rmtree(results, ignore_errors=True)
        return

    workdir.mkdir(parents=True, exist_ok=True)
    _prepare(workdir)
    t0 = time.perf_counter()
    subprocess.run(
        [_exe("harness"), "generate", str(workdir / "configs/pipelines/bench_mnq_60m.yaml")],
        check=True,
    )
    print(f"dataset ready in {time.perf_counter() - t0:.1f} s")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    figures = {}
    for w in args.workers:
        out = subprocess.run(
            [sys.executable, __file__, "--workdir", str(workdir), "--child", str(w)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        line = next(x for x in out.stdout.splitlines() if x.startswith(MARKER))
        fig = json.loads(line[len(MARKER) :])
        figures[w] = fig
        print(
            f"workers={w}: {fig['n_runs']} evaluations × 5 thresholds ({fig['n_rows']} rows) over "
            f"{fig['n_bins']} bins × {fig['n_cells']} cells in {fig['n_chunks']} chunks: "
            f"sweep {fig['sweep_s']:.1f} s (ray start {fig['ray_start_s']:.1f} s, "
            f"dataset load {fig['dataset_load_s']:.1f} s)"
        )
    if 1 in figures and 2 in figures:
        speedup = figures[1]["sweep_s"] / figures[2]["sweep_s"]
        print(
            f"speed-up 1 -> 2 workers: {speedup:.2f}x (target >= 1.6x); "
            f"2 workers {figures[2]['sweep_s']:.1f} s (target <= 60 s)"
        )


if __name__ == "__main__":
    main()
