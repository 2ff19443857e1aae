"""Sweeps on a local Ray: expansion, chunked evaluation, idempotent results, a killed worker."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spymaster_harness.sweep import chunk as chunk_mod
from spymaster_harness.sweep.executor import plan_chunks, run_plan
from spymaster_harness.sweep.plan import load_plan
from spymaster_shared.results_store import query_runs, read_runs, read_runs_meta, run_detail
from tests.harness.harness_synth import synthetic_frames

N_BINS = 2500


def small_experiment(config_root: Path, name: str = "tiny_sweep") -> Path:
    spec = {
        "name": name,
        "serving": "ads_pfp_svac_baseline",
        "eval": {
            "tp_ticks": [3, 6],
            "sl_ticks": [3],
            "max_hold_bins": 150,
            "warmup_bins": 100,
            "tick_size": 0.25,
            "cooldown_bins": [5, 20],
            "thresholds": [0.1, 0.3],
        },
        "sweep": {
            "scoring": {"zscore_window_bins": [60, 90], "zscore_min_periods": [20]},
            "per_signal": {"ads_pfp_svac": {"pfp_lag_ms": [300, 500]}},
        },
        "parallel": {"max_workers": 2},
        "tracking": {"backend": "none"},
    }
    path = config_root / "experiments" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory: pytest.TempPathFactory):
    import os

    import ray

    from spymaster_harness.ray_runtime import init_ray

    marker = tmp_path_factory.mktemp("fault") / "killed-once"
    marker.write_text("disarmed")  # tests re-arm by deleting it
    os.environ[chunk_mod.FAULT_ENV] = str(marker)
    try:
        init_ray(workers=2, max_workers=2)
        yield marker
    finally:
        ray.shutdown()
        os.environ.pop(chunk_mod.FAULT_ENV, None)


def test_reference_experiment_expands_to_3456_runs() -> None:
    plan = load_plan("ads_pfp_svac_sweep_rr20")
    assert (len(plan.scoring_points), len(plan.signal_points), len(plan.pairs)) == (18, 16, 12)
    assert plan.n_runs == 3456
    ids = {plan.run_id(p) for p in plan.all_points()}
    assert len(ids) == 3456
    assert load_plan("ads_pfp_svac_sweep_rr20").run_id(plan.all_points()[7]) == plan.run_id(
        plan.all_points()[7]
    )
    # chunks: one per scoring point, each holding many combinations
    chunks = plan_chunks(plan, n_workers=2)
    assert len(chunks) == 18 and all(len(sig) == 16 for _, sig in chunks)


def test_sweep_on_ray_is_complete_unique_and_survives_a_killed_worker(
    config_root: Path, ray_local: Path, tmp_path: Path
) -> None:
    plan = load_plan(small_experiment(config_root))
    assert plan.n_runs == 2 * 2 * 2 * 2
    frames = synthetic_frames(3, N_BINS)
    results = tmp_path / "results"
    ray_local.unlink()  # arm: the first chunk to write kills its worker once
    res = run_plan(plan, frames, n_workers=2, results_root=results, progress=False)
    assert ray_local.exists(), "no worker was killed"
    expected = {plan.run_id(p) for p in plan.all_points()}
    meta = read_runs_meta(results)
    runs = read_runs(results)
    assert {m["run_id"] for m in meta} == expected
    assert len(runs) == len(expected) * 2 and {r["run_id"] for r in runs} == expected
    assert len(res.rows) == len(runs)
    # the raw part files hold each run exactly once (the retried chunk replaced its own part)
    import pyarrow.dataset as pads

    raw = pads.dataset(str(results / "runs_meta"), format="parquet").to_table()
    assert raw.num_rows == len(expected)
    assert sum(r["n_signals"] for r in runs) > 0

    # rerunning is idempotent: same ids, same part files, same metrics
    before = sorted((r["run_id"], r["threshold"], r["n_signals"], r["tp_rate"]) for r in runs)
    run_plan(plan, frames, n_workers=2, results_root=results, progress=False)
    after = sorted(
        (r["run_id"], r["threshold"], r["n_signals"], r["tp_rate"]) for r in read_runs(results)
    )
    assert before == after
    assert len(list((results / "runs").glob("part-*.parquet"))) == res.n_chunks

    top = query_runs(sort="mean_pnl_ticks", top_n=3, root=results)
    assert len(top) == 3
    assert top[0]["mean_pnl_ticks"] >= top[1]["mean_pnl_ticks"] >= top[2]["mean_pnl_ticks"]
    detail = run_detail(top[0]["run_id"], root=results)
    assert [t["threshold"] for t in detail["thresholds"]] == [0.1, 0.3]
    series = detail["thresholds"][0]["pnl_series"]
    assert len(series["bins"]) == len(series["cum_pnl_ticks"])
    assert detail["serving"]["signal"]["name"] == "ads_pfp_svac"
    assert detail["pipeline"]["name"] == "mnq_60m_baseline"
