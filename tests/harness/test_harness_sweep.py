"""Sweeps on a local Ray: expansion, chunked evaluation, idempotent results, a killed worker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from spymaster_harness.sweep import chunk as chunk_mod
from spymaster_harness.sweep.executor import plan_chunks, plan_zscore_parts, run_plan
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
    # robust z-scores: once per distinct window (3), split by cells only for more workers
    assert [w for w, _ in plan.zscore_windows()] == [200, 300, 400]
    assert {plan.zscore_window_index(s) for s in range(18)} == {0, 1, 2}
    assert plan_zscore_parts(plan, n_workers=2) == [(0, 0, 101), (1, 0, 101), (2, 0, 101)]
    parts = plan_zscore_parts(plan, n_workers=8)
    assert len(parts) == 9 and [p for p in parts if p[0] == 1] == [
        (1, 0, 34),
        (1, 34, 67),
        (1, 67, 101),
    ]
    # only the cell columns the tasks read reach the object store
    assert chunk_mod.input_columns(plan) == [
        "composite_d1",
        "composite_d2",
        "composite_d3",
        "vacuum_variant",
    ]


def test_chunk_pieces_equal_the_direct_path(config_root: Path, tmp_path: Path) -> None:
    """z-scores once per window (in cell parts) + blend == score_dataset; shared component
    series == each signal point run alone; columnar result tables == one row at a time."""
    from spymaster_harness.eval import Market
    from spymaster_harness.sweep.plan import RunPoint
    from spymaster_shared.scoring import score_dataset
    from spymaster_shared.scoring.signals import get_signal

    spec = yaml.safe_load(small_experiment(config_root).read_text())
    spec["sweep"]["scoring"]["tanh_scale"] = [2.0, 3.5]
    spec["sweep"]["per_signal"]["ads_pfp_svac"]["composite_weight_pfp"] = [0.1, 0.3]
    path = config_root / "experiments" / "pieces.yaml"
    path.write_text(yaml.safe_dump({**spec, "name": "pieces"}, sort_keys=False))
    plan = load_plan(path)
    assert len(plan.scoring_points) == 4 and len(plan.zscore_windows()) == 2
    frames = synthetic_frames(5, 1200)
    cells, bins = frames.cells, frames.bins
    for w in range(2):
        scoring_indices = [s for s in range(4) if plan.zscore_window_index(s) == w]
        z_parts = [
            chunk_mod.zscore_part(cells, plan.scoring_points[scoring_indices[0]], a, b)
            for a, b in ((0, 40), (40, 41), (41, plan.n_cells))
        ]
        for s in scoring_indices:
            direct, _ = score_dataset(cells, plan.scoring_points[s])
            blended = chunk_mod.blend_flow_score(z_parts, plan.scoring_points[s])
            assert np.array_equal(blended, direct, equal_nan=True)

    flow_score, _ = score_dataset(cells, plan.scoring_points[1])
    indices = list(range(len(plan.signal_points)))
    assert len(indices) == 4
    shared = chunk_mod.signal_scores(plan, indices, cells, bins, flow_score)
    for row, point in enumerate(plan.signal_points):
        alone = get_signal(point.name).create(
            point.params, point.weights, cell_width_ms=plan.cell_width_ms, n_cells=plan.n_cells
        )
        assert np.array_equal(shared[row], alone.batch(cells, flow_score, bins), equal_nan=True)

    market = Market.from_bins(bins)
    ev = plan.experiment.eval
    res = chunk_mod.evaluate_plan(plan, shared, market)
    meta, runs, summary = chunk_mod.result_tables(plan, res, market, 1, indices)
    want_meta, want_runs, want_summary = [], [], []
    for c, g in enumerate(indices):
        sig = plan.signal_points[g]
        for p, (tp, sl) in enumerate(plan.pairs):
            for d, cooldown in enumerate(plan.cooldowns):
                point = RunPoint(1, g, p, d)
                want_meta.append(
                    {
                        "run_id": plan.run_id(point),
                        "experiment_name": plan.experiment.name,
                        "dataset_id": plan.dataset_id,
                        "pipeline_name": plan.pipeline.name,
                        "serving_name": plan.serving.name,
                        "signal_name": sig.name,
                        "scoring_json": json.dumps(plan.scoring_points[1].model_dump(mode="json")),
                        "signal_params_json": json.dumps(sig.params, sort_keys=True),
                        "signal_weights_json": json.dumps(sig.weights, sort_keys=True),
                        "tp_ticks": tp,
                        "sl_ticks": sl,
                        "cooldown_bins": cooldown,
                        "max_hold_bins": ev.max_hold_bins,
                        "warmup_bins": ev.warmup_bins,
                        "tick_size": ev.tick_size,
                        "n_bins": market.n_bins,
                        "eval_hours": res.eval_hours,
                        "serving_spec_json": json.dumps(
                            plan.serving_for(point).model_dump(mode="json")
                        ),
                        "pipeline_spec_json": json.dumps(plan.pipeline.model_dump(mode="json")),
                    }
                )
                for h, thr in enumerate(plan.thresholds):
                    m = res.metrics(c, h, d, p)
                    series_bins, cum = res.pnl_series(c, h, d, p)
                    want_runs.append(
                        {
                            "run_id": plan.run_id(point),
                            "threshold": thr,
                            **m,
                            "pnl_bins": series_bins.tolist(),
                            "cum_pnl_ticks": cum.tolist(),
                        }
                    )
                    want_summary.append(
                        {
                            "run_id": plan.run_id(point),
                            "scoring_index": 1,
                            "signal_index": g,
                            "signal_name": plan.signal_points[g].name,
                            "tp_ticks": tp,
                            "sl_ticks": sl,
                            "cooldown_bins": cooldown,
                            "threshold": thr,
                            **{k: m[k] for k in chunk_mod.SUMMARY_KEYS},
                        }
                    )
    assert runs.to_pylist() == want_runs
    assert summary == want_summary
    assert [type(v) for v in summary[0].values()] == [type(v) for v in want_summary[0].values()]
    assert meta.to_pylist() == want_meta


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


def test_warm_up_runs_the_task_code_on_a_tiny_grid(config_root: Path) -> None:
    plan = load_plan(small_experiment(config_root))
    chunk_mod.warm_up(plan)  # no Ray, no dataset: random read-only inputs


def test_result_tables_must_match_the_store_schema(tmp_path: Path) -> None:
    import pyarrow as pa

    from spymaster_shared.results_store import ResultsError, write_result_tables

    meta = pa.table({"run_id": ["r1"]})
    with pytest.raises(ResultsError, match="runs table does not match the results schema"):
        write_result_tables(meta, pa.table({"run_id": ["r1"]}), root=tmp_path)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
