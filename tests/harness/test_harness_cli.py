"""The harness CLI end to end: bad input fails fast, run -> compare -> promote, MLflow."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli, write_pipeline


def _serving(config_root: Path, pipeline: str) -> str:
    base = yaml.safe_load((config_root / "serving" / "ads_pfp_svac_baseline.yaml").read_text())
    base.update(name="small_serving", pipeline=pipeline)
    base["scoring"].update(zscore_window_bins=100, zscore_min_periods=30)
    (config_root / "serving" / "small_serving.yaml").write_text(yaml.safe_dump(base))
    return "small_serving"


def _experiment(config_root: Path, name: str = "small_exp", **overrides: object) -> Path:
    spec: dict = {
        "name": name,
        "serving": "small_serving",
        "eval": {
            "tp_ticks": [4, 8],
            "sl_ticks": [4],
            "max_hold_bins": 300,
            "warmup_bins": 300,
            "tick_size": 0.25,
            "cooldown_bins": [10],
            "thresholds": [0.1, 0.3],
        },
        "sweep": {
            "scoring": {"zscore_window_bins": [80, 120]},
            "per_signal": {"ads_pfp_svac": {"pfp_lag_ms": [300, 500]}},
        },
        "parallel": {"max_workers": 2},
        "tracking": {"backend": "mlflow", "experiment_name": "test/e2e"},
    }
    for dotted, value in overrides.items():
        node = spec
        *head, leaf = dotted.split("__")
        for key in head:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = config_root / "experiments" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _fails(path: Path, *fields: str, names_file: bool = True) -> str:
    res = run_cli("harness", "run", str(path), "--no-progress", check=False)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    if names_file:
        assert str(path) in lines[0]
    for f in fields:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def small_setup(config_root: Path, tmp_path: Path) -> Path:
    # a pipeline over a DBN file that need not exist: these tests fail before reading it
    write_pipeline(config_root, "small_test", tmp_path / "missing.dbn")
    _serving(config_root, "small_test")
    return config_root


def test_bad_specs_fail_before_any_work(small_setup: Path) -> None:
    root = small_setup
    _fails(_experiment(root, "e1", eval__bogus=1), "eval.bogus", "unknown key")
    _fails(_experiment(root, "e2", eval__tp_ticks=[0, 4]), "eval.tp_ticks")
    _fails(_experiment(root, "e3", serving="no_such_serving"), "serving")
    _fails(
        _experiment(root, "e4", sweep__per_signal={"ads_pfp_svac": {"bogus_param": [1]}}),
        "sweep.per_signal.ads_pfp_svac.bogus_param",
    )
    _fails(
        _experiment(root, "e5", sweep__per_signal={"ads_pfp_svac": {"pfp_ema_alpha": [5.0]}}),
        "sweep.per_signal.ads_pfp_svac.pfp_ema_alpha",
        "out of range",
    )
    _fails(_experiment(root, "e6", sweep__per_signal={"nope": {"x": [1]}}), "unknown signal")
    line = _fails(
        _experiment(
            root, "e7", tracking={"backend": "mlflow", "tracking_uri": "http://127.0.0.1:9"}
        ),
        names_file=False,
    )
    assert "unreachable" in line
    assert not (Path(os.environ["SPYMASTER_DATA_ROOT"]) / "research" / "vp_immutable").exists()


def test_unreachable_ray_is_one_line() -> None:
    res = run_cli("harness", "jobs", "--address", "http://127.0.0.1:9", check=False)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "cannot reach Ray at http://127.0.0.1:9" in res.stderr


@pytest.mark.slow
def test_run_compare_promote(config_root: Path, synthetic_dbn: Path) -> None:
    from mlflow.tracking import MlflowClient

    from spymaster_harness.tracking import resolve_tracking_uri
    from spymaster_shared.config import TrackingConfig
    from spymaster_shared.config.serving_registry import list_aliases, resolve_serving_ref
    from spymaster_shared.results_store import query_runs, run_detail

    write_pipeline(config_root, "small_test", synthetic_dbn)
    _serving(config_root, "small_test")
    exp = _experiment(config_root)
    res = run_cli("harness", "run", str(exp), "--workers", "2", "--no-progress", check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "8 runs" in res.stdout and "mlflow run" in res.stdout

    rows = query_runs(min_signals=1, top_n=50)
    assert rows and len({r["run_id"] for r in rows}) == 8
    best = rows[0]["run_id"]
    out = run_cli("harness", "compare", "--sort", "mean_pnl_ticks", "--top-n", "5").stdout
    assert "mean_pnl" in out and re.search(r"r[0-9a-f]{15}", out)
    bad = run_cli("harness", "compare", "--sort", "nope", check=False)
    assert bad.returncode == 2 and "sort must be one of" in bad.stderr

    client = MlflowClient(resolve_tracking_uri(TrackingConfig()))
    mexp = client.get_experiment_by_name("test/e2e")
    runs = client.search_runs([mexp.experiment_id])
    assert len(runs) == 1 and runs[0].data.params["experiment"] == "small_exp"
    assert "best_tp_rate" in runs[0].data.metrics
    assert [a.path for a in client.list_artifacts(runs[0].info.run_id)] == ["sweep_results.parquet"]

    res = run_cli("harness", "promote", str(exp), "--run-id", best, "--alias", "champion")
    version = re.search(r"version (v[0-9a-f]{12})", res.stdout).group(1)
    assert "serving=champion" in res.stdout and "symbol=MNQH6" in res.stdout
    assert (config_root / "serving_versions" / f"{version}.yaml").is_file()
    assert list_aliases() == {"champion": version}
    resolved = resolve_serving_ref("champion")
    assert resolved.version == version and resolved.kind == "alias"
    assert resolved.serving.scoring.model_dump(mode="json") == run_detail(best)["params"]["scoring"]
    assert resolve_serving_ref(version).kind == "version"
    assert resolve_serving_ref("small_serving").kind == "serving"
    again = run_cli("harness", "promote", str(exp), "--run-id", best, "--alias", "champion")
    assert "already published" in again.stdout and "(no changes)" in again.stdout
    other = next(r["run_id"] for r in rows if r["run_id"] != best)
    diff = run_cli("harness", "promote", str(exp), "--run-id", other, "--alias", "champion")
    assert f"was {version}" in diff.stdout and "->" in diff.stdout
