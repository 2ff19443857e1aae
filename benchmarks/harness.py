"""Harness benchmark: the reference sweep on local Ray with 1 and with 2 workers.

Input: a synthetic MNQH6 session written by `spymaster synth` covering the default pipeline
(configs/pipelines/mnq_60m_baseline.yaml: 60 minutes, 36,000 bins of 101 rows, plus the
30-minute warmup), materialised once as a dataset; then the sweep of
configs/experiments/ads_pfp_svac_sweep_rr20.yaml (18 scoring points × 16 signal points ×
12 TP/SL = 3,456 evaluations, × 5 thresholds) pointed at that dataset, tracking off.

Each worker count runs in a fresh process with a fresh embedded Ray, in the order of
`harness run`: Ray start-up (until its worker processes accept tasks: `ray.init` returns
before they have booted), then the dataset load while each worker warms up (imports and numba
kernel loads, `warm_up_workers`; `--cold` skips it), then the sweep. The figure is the wall
time of the sweep (`run_plan`: object-store put, robust z-scores, blends, signals, TP/SL
kernel, results writes, result collection, plus any warm-up the load did not hide); Ray
start-up, dataset load and their total are printed too. The load average is printed before
and after each run: the machine may be shared. Targets: <= 60 s with 2 workers, >= 1.6x
speed-up.

Usage: uv run python benchmarks/harness.py [--workdir DIR] [--workers 1 2] [--cold]
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


def _wait_for_workers(n: int) -> None:
    """Return once n Ray worker processes run tasks (a trivial task each, nothing imported)."""
    import ray

    @ray.remote(num_cpus=1)
    def ready() -> int:
        time.sleep(0.2)  # holds its CPU, so the n tasks run on n distinct workers
        return os.getpid()

    pids = ray.get([ready.remote() for _ in range(n)])
    assert len(set(pids)) == n, pids


def ray_get(refs: list) -> list:
    import ray

    return ray.get(refs) if refs else []


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _child(experiment: Path, workers: int, results: Path, cold: bool) -> dict:
    from spymaster_harness.datasets import ensure_dataset, load_dataset
    from spymaster_harness.ray_runtime import init_ray
    from spymaster_harness.sweep.executor import run_plan, warm_up_workers
    from spymaster_harness.sweep.plan import load_plan

    # The order of `harness run`: Ray, the workers' warm-up (unless --cold) while the
    # driver loads the dataset, then the sweep.
    plan = load_plan(experiment)
    t0 = time.perf_counter()
    n = init_ray(workers=workers, max_workers=workers)
    _wait_for_workers(n)
    t_ray = time.perf_counter() - t0
    warm = [] if cold else warm_up_workers(plan, n)
    t0 = time.perf_counter()
    dataset_id = ensure_dataset(plan.pipeline, progress=False)
    frames = load_dataset(dataset_id).frames
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    warmed = sum(ray_get(warm))
    t_warm_wait = time.perf_counter() - t0  # the part of the warm-up the load did not hide
    res = run_plan(plan, frames, n_workers=n, results_root=results, progress=False)
    return {
        "workers": n,
        "warmed_workers": warmed,
        "warm_up_wait_s": t_warm_wait,
        "dataset_id": dataset_id,
        "n_bins": frames.n_bins,
        "n_cells": frames.n_rows,
        "n_runs": plan.n_runs,
        "n_rows": len(res.rows),
        "n_chunks": res.n_chunks,
        "dataset_load_s": t_data,
        "ray_start_s": t_ray,
        "sweep_s": res.wall_seconds + t_warm_wait,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/spymaster-bench-harness"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--cold",
        action="store_true",
        help="no worker warm-up: imports and kernel loads in the sweep",
    )
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    workdir = args.workdir.resolve()
    os.environ["SPYMASTER_CONFIG_ROOT"] = str(workdir / "configs")
    os.environ["SPYMASTER_DATA_ROOT"] = str(workdir / "lake")
    experiment = workdir / "configs/experiments/bench_rr20.yaml"
    if args.child is not None:
        results = workdir / f"results-{args.child}w-{time.time_ns()}"
        print(MARKER + json.dumps(_child(experiment, args.child, results, args.cold)), flush=True)
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
        load_before = _load()
        out = subprocess.run(
            [sys.executable, __file__, "--workdir", str(workdir), "--child", str(w)]
            + (["--cold"] if args.cold else []),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        line = next(x for x in out.stdout.splitlines() if x.startswith(MARKER))
        fig = json.loads(line[len(MARKER) :])
        figures[w] = fig
        warm = (
            "cold workers"
            if args.cold
            else f"{fig['warmed_workers']} worker(s) warmed during the load, "
            f"{fig['warm_up_wait_s']:.1f} s of warm-up left to wait for"
        )
        print(
            f"workers={w}: {fig['n_runs']} evaluations × 5 thresholds ({fig['n_rows']} rows) over "
            f"{fig['n_bins']} bins × {fig['n_cells']} cells in {fig['n_chunks']} chunks: "
            f"sweep {fig['sweep_s']:.1f} s ({warm}); ray start {fig['ray_start_s']:.1f} s, "
            f"dataset load {fig['dataset_load_s']:.1f} s, total {_total(fig):.1f} s; "
            f"load average (1/5/15 min) {load_before} before, {_load()} after"
        )
    if 1 in figures and 2 in figures:
        one, two = figures[1], figures[2]
        print(
            f"speed-up 1 -> 2 workers: sweep {one['sweep_s'] / two['sweep_s']:.2f}x "
            f"(target >= 1.6x), total {_total(one) / _total(two):.2f}x; "
            f"2 workers {two['sweep_s']:.1f} s (target <= 60 s)"
        )


def _total(fig: dict) -> float:
    """Wall time of the child from Ray start to the end of the sweep."""
    return fig["ray_start_s"] + fig["dataset_load_s"] + fig["sweep_s"]


if __name__ == "__main__":
    main()
