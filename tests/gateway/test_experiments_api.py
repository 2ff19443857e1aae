"""Experiment browser REST router on a tmp results store (FastAPI TestClient)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI

from spymaster_gateway.experiments_api import router
from tests.frontend.results_fixture import seed_results

pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (a dev dependency)")
from fastapi import testclient


@pytest.fixture
def store(tmp_path: Path):
    results = tmp_path / "results"
    config = tmp_path / "configs"
    (config / "serving_versions").mkdir(parents=True)
    ids = seed_results(results)
    app = FastAPI()
    app.state.results_root = results
    app.state.config_root = config
    app.include_router(router)
    return testclient.TestClient(app), ids, config


def test_runs_ranked_and_filtered(store):
    client, (a, b, c), _ = store
    body = client.get("/v1/experiments/runs", params={"min_signals": 5}).json()
    assert [(r["run_id"], r["threshold"]) for r in body["runs"]] == [(a, 0.2), (b, 0.2), (a, 0.4)]
    assert body["sort"] == "tp_rate" and body["count"] == 3
    row = body["runs"][0]
    assert row["signal_name"] == "ads_pfp_svac" and row["tp_ticks"] == 20 and row["n_signals"] == 12

    by_pnl = client.get("/v1/experiments/runs?sort=mean_pnl_ticks&min_signals=0").json()["runs"]
    assert by_pnl[0]["run_id"] == c and by_pnl[0]["mean_pnl_ticks"] == 9.0
    assert any(r["mean_pnl_ticks"] is None for r in by_pnl)  # NaN -> null, valid JSON

    only = client.get("/v1/experiments/runs?signal=derivative").json()["runs"]
    assert {r["run_id"] for r in only} == {b}
    ds = client.get("/v1/experiments/runs?dataset_id=ds0000000000000b&min_signals=0").json()
    assert {r["run_id"] for r in ds["runs"]} == {c}
    assert len(client.get("/v1/experiments/runs?top_n=1").json()["runs"]) == 1


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("bogus=1", "bogus"),
        ("sort=sharpe", "sort"),
        ("min_signals=-1", "min_signals"),
        ("top_n=abc", "top_n"),
        ("signal=../etc", "signal"),
    ],
)
def test_bad_query_is_400_naming_the_param(store, query, param):
    client, _, _ = store
    res = client.get(f"/v1/experiments/runs?{query}")
    assert res.status_code == 400
    assert res.json()["detail"].startswith(f"{param}:")


def test_detail_has_metrics_series_and_stream_url(store):
    client, (a, _, c), _ = store
    d = client.get(f"/v1/experiments/runs/{a}/detail").json()
    assert d["run_id"] == a and d["signal_name"] == "ads_pfp_svac"
    assert [t["threshold"] for t in d["thresholds"]] == [0.2, 0.4]
    assert d["thresholds"][0]["pnl_series"]["cum_pnl_ticks"][:2] == [3.5, 7.0]
    assert d["params"]["tp_ticks"] == 20 and d["params"]["signal_params"] == {"pfp_lag_ms": 500}
    assert d["stream_url"] == (
        "/vacuum-pressure.html?product_type=future_mbo&symbol=MNQH6&dt=2026-02-06"
        "&start_time=09%3A25&pipeline=mnq_60m_baseline"
    )
    assert d["stream"]["promoted"] is False and d["stream"]["can_stream"] is True
    empty = client.get(f"/v1/experiments/runs/{c}/detail").json()
    assert empty["thresholds"][1]["mean_pnl_ticks"] is None


def test_detail_of_promoted_run_streams_its_serving_version(store):
    client, (a, _, _), config = store
    version = "v0123456789ab"
    (config / "serving_versions" / f"{version}.yaml").write_text(
        yaml.safe_dump({"version": version, "source_run_id": a})
    )
    d = client.get(f"/v1/experiments/runs/{a}/detail").json()
    assert d["stream"]["promoted"] is True
    assert d["stream_url"].endswith(f"&serving={version}")


def test_unknown_run_is_404_and_bad_id_is_400(store):
    client, _, _ = store
    res = client.get("/v1/experiments/runs/rdoesnotexist/detail")
    assert res.status_code == 404 and "rdoesnotexist" in res.json()["detail"]
    assert client.get("/v1/experiments/runs/bad%20id/detail").status_code == 400


def test_broken_store_is_500_not_404(store, tmp_path):
    """A store that cannot be read is the server's fault (500), whatever the run id."""
    client, (a, _, _), _ = store
    (tmp_path / "results" / "runs_meta" / "part-zzzz.parquet").write_bytes(b"not parquet")
    for run_id in (a, "rdoesnotexist"):
        res = client.get(f"/v1/experiments/runs/{run_id}/detail")
        assert res.status_code == 500 and "unreadable part file" in res.json()["detail"]


def test_empty_store_lists_nothing(tmp_path):
    app = FastAPI()
    app.state.results_root = tmp_path / "nothing"
    app.include_router(router)
    body = testclient.TestClient(app).get("/v1/experiments/runs").json()
    assert body["runs"] == [] and body["count"] == 0
