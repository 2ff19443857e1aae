"""Benchmark of the shared scoring path: SpectrumScorer, every signal, projection, batch.

Run: ``uv run python benchmarks/scoring.py [--bins 36000] [--cells 101]``. Prints its input
and its figures. Targets: scoring <= 20 us/bin (101 cells), all signals together <= 1 ms/bin
(incremental), score_dataset on 36,000 x 101 <= 2 s. Numba kernels are compiled (or loaded
from cache) before timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from spymaster_shared.config.serving import ProjectionConfig, ScoringConfig
from spymaster_shared.grid_schema import CELL_NAMES
from spymaster_shared.scoring import Projector, SpectrumScorer, score_dataset
from spymaster_shared.scoring.signals import get_signal, list_signals

SERVING_EXAMPLE = {
    "ads_pfp_svac": {
        "ads_slope_windows_ms": [1000, 2500, 5000],
        "ads_zscore_window_ms": 20000,
        "ads_warmup_ms": 20000,
        "pfp_lag_ms": 500,
        "pfp_ema_alpha": 0.05,
    }
}


def make_cells(n_bins: int, n_cells: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cells = {name: rng.normal(size=(n_bins, n_cells)) for name in CELL_NAMES}
    cells["composite"] = np.tanh(cells["composite"])
    cells["state5_code"] = rng.integers(-2, 3, size=(n_bins, n_cells)).astype(np.int8)
    for name in ("add_mass", "pull_mass", "vacuum_variant", "pressure_variant"):
        cells[name] = np.abs(cells[name])
    return cells


def per_bin_us(fn, n: int) -> float:
    """CPU microseconds per call (process time: robust to other work on a shared machine)."""
    t0 = time.process_time()
    for i in range(n):
        fn(i)
    return (time.process_time() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, default=36_000, help="bins for score_dataset")
    ap.add_argument("--cells", type=int, default=101, help="cells per bin (2R+1)")
    ap.add_argument("--live-bins", type=int, default=3000, help="bins timed incrementally")
    args = ap.parse_args()
    scoring = ScoringConfig()
    C, n_live = args.cells, args.live_bins
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.processor() or platform.machine()} "
        f"cpus={os.cpu_count()} python={platform.python_version()}"
    )
    print("# figures: CPU time (process_time), robust to other load on a shared machine")
    print(
        f"# input: N(0,1) composite_d1..d3 and features, seed 0; {C} cells; "
        f"scoring={scoring.model_dump()}; cell_width_ms=100"
    )

    cells = make_cells(args.bins, C)
    d1, d2, d3 = (cells[f"composite_d{i}"] for i in (1, 2, 3))
    score_dataset({k: v[:50] for k, v in cells.items()}, scoring)  # compile / load cache

    # incremental scorer, after a full window of warmup
    scorer = SpectrumScorer(scoring, C)
    warm = scoring.zscore_window_bins + 100
    scorer.run(d1[:warm], d2[:warm], d3[:warm])
    scorer.update(d1[warm], d2[warm], d3[warm])  # compile / load cache before timing
    warm += 1
    # one bin's three rows as the service gets them (arrays of its own), sliced before timing
    live = [(d1[t], d2[t], d3[t]) for t in range(warm, warm + n_live)]
    us = per_bin_us(lambda i: scorer.update(*live[i]), n_live)
    print(f"scorer.update           {us:8.1f} us/bin   (target <= 20)")

    t0, c0 = time.perf_counter(), time.process_time()
    flow, _ = score_dataset(cells, scoring)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"score_dataset           {cpu:8.2f} s CPU ({dt:.2f} s wall) for {args.bins} x {C}  "
        f"({cpu / args.bins * 1e6:.1f} us/bin, target <= 2 s)"
    )

    n_sig = min(args.bins, warm + n_live)
    rows = [{k: v[t] for k, v in cells.items()} for t in range(n_sig)]
    total = 0.0
    for name in list_signals():
        sig = get_signal(name).create(
            SERVING_EXAMPLE.get(name, {}), {}, cell_width_ms=100, n_cells=C
        )
        sig.batch({k: v[:20] for k, v in cells.items()}, flow[:20], {})  # compile
        inc = sig.incremental()
        us = per_bin_us(lambda t, inc=inc: inc.update(rows[t], flow[t], {}), n_sig)
        t0 = time.process_time()
        sig.batch(cells, flow, {})
        b = time.process_time() - t0
        total += us
        print(
            f"signal {name:<16} {us:8.1f} us/bin incremental   batch {b:6.3f} s / {args.bins} bins"
        )
    print(f"all signals together    {total:8.1f} us/bin   (target <= 1000)")

    proj = Projector(ProjectionConfig(use_cubic=True), 100)
    proj.update(0.0)
    us = per_bin_us(lambda i: proj.update(0.001 * i), n_live)
    print(f"projector.update        {us:8.1f} us/bin")


if __name__ == "__main__":
    main()
