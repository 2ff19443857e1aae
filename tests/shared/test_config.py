"""Config layers: loading by name, validation errors naming file and field, ids, time zones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from spymaster_shared.config import (
    load_experiment,
    load_pipeline,
    load_serving,
    resolve_engine_config,
)
from spymaster_shared.config.runtime import ny_to_utc_ns
from spymaster_shared.errors import ConfigError, InvalidNameError

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, root)
    monkeypatch.setenv("SPYMASTER_CONFIG_ROOT", str(root))
    return root


def _edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data))


def test_first_configs_load_with_reference_values(configs: Path) -> None:
    p = load_pipeline("mnq_60m_baseline")
    assert p.capture.symbol == "MNQH6" and p.capture.start_time == "09:25"
    s = load_serving("ads_pfp_svac_baseline")
    assert s.scoring.zscore_window_bins == 300
    assert s.scoring.derivative_weights == (0.55, 0.30, 0.15)
    assert s.signal.weights == {"ads": 0.40, "pfp": 0.25, "svac": 0.30}
    e = load_experiment("ads_pfp_svac_sweep_rr20")
    assert e.eval.tp_ticks == (18, 20, 22, 24) and e.eval.cooldown_bins == (20,)
    assert e.sweep.per_signal["ads_pfp_svac"]["pfp_lag_ms"] == [300, 500]


def test_load_by_path_equals_load_by_name(configs: Path) -> None:
    by_path = load_pipeline(configs / "pipelines" / "mnq_60m_baseline.yaml")
    assert by_path == load_pipeline("mnq_60m_baseline")


def test_engine_config_resolution_and_new_york_time(configs: Path) -> None:
    cfg = resolve_engine_config(load_pipeline("mnq_60m_baseline"))
    # 2026-02-06 is EST (UTC-5): 09:25 NY = 14:25 UTC
    assert cfg.capture_start_ns == 1_770_387_900 * 10**9
    assert cfg.capture_end_ns - cfg.capture_start_ns == 3600 * 10**9
    assert cfg.warmup_start_ns == cfg.capture_start_ns - 30 * 60 * 10**9
    assert cfg.tick_size == 0.25 and cfg.bucket_price_int == 250_000_000
    assert cfg.n_bins == 36_000 and cfg.n_grid_rows == 101


def test_daylight_saving_is_respected() -> None:
    import datetime as dt

    winter = ny_to_utc_ns(dt.date(2026, 2, 6), dt.time(9, 30))
    summer = ny_to_utc_ns(dt.date(2026, 7, 6), dt.time(9, 30))
    assert (winter // 10**9) % 86400 == 14 * 3600 + 30 * 60
    assert (summer // 10**9) % 86400 == 13 * 3600 + 30 * 60


def test_dataset_id_is_stable_and_sensitive(configs: Path) -> None:
    p = load_pipeline("mnq_60m_baseline")
    assert p.dataset_id() == load_pipeline("mnq_60m_baseline").dataset_id()
    assert len(p.dataset_id()) == 16
    # description is documentation, not content
    assert p.model_copy(update={"description": "x"}).dataset_id() == p.dataset_id()
    bumped = p.model_copy(update={"pipeline_code_version": 2})
    assert bumped.dataset_id() != p.dataset_id()
    assert p.with_capture(start_time="09:30").dataset_id() != p.dataset_id()
    # an override equal to the default resolves to the same engine config, same id
    path = configs / "pipelines" / "mnq_60m_baseline.yaml"
    _edit(path, lambda d: d["pipeline"].update(grid_radius_ticks=50))
    assert load_pipeline("mnq_60m_baseline").dataset_id() == p.dataset_id()
    _edit(path, lambda d: d["pipeline"].update(tau_velocity=2.5))
    assert load_pipeline("mnq_60m_baseline").dataset_id() != p.dataset_id()


def test_unknown_key_names_file_and_field(configs: Path) -> None:
    path = configs / "pipelines" / "mnq_60m_baseline.yaml"
    _edit(path, lambda d: d["pipeline"].update(tau_velocty=2.0))
    with pytest.raises(ConfigError) as err:
        load_pipeline("mnq_60m_baseline")
    assert str(path) in str(err.value)
    assert "pipeline.tau_velocty" in str(err.value) and "unknown key" in str(err.value)


@pytest.mark.parametrize(
    ("kind", "name", "edit", "field"),
    [
        ("pipelines", "mnq_60m_baseline", lambda d: d["pipeline"].update(tau_jerk=-1), "tau_jerk"),
        ("pipelines", "mnq_60m_baseline", lambda d: d["capture"].update(dt="2026-13-01"), "dt"),
        (
            "pipelines",
            "mnq_60m_baseline",
            lambda d: d["capture"].update(end_time="09:00"),
            "capture",
        ),
        (
            "pipelines",
            "mnq_60m_baseline",
            lambda d: d["pipeline"].update(spectrum_rollup_weights=[1.0]),
            "pipeline",
        ),
        (
            "serving",
            "ads_pfp_svac_baseline",
            lambda d: d["scoring"].update(zscore_min_periods=500),
            "scoring",
        ),
        (
            "serving",
            "ads_pfp_svac_baseline",
            lambda d: d["scoring"].update(tanh_scale="big"),
            "scoring.tanh_scale",
        ),
        (
            "experiments",
            "ads_pfp_svac_sweep_rr20",
            lambda d: d["eval"].update(sl_ticks=[0]),
            "eval.sl_ticks",
        ),
        (
            "experiments",
            "ads_pfp_svac_sweep_rr20",
            lambda d: d["sweep"]["scoring"].update(zscore_windw_bins=[1]),
            "sweep.scoring",
        ),
    ],
)
def test_bad_values_fail_naming_file_and_field(configs, kind, name, edit, field) -> None:
    path = configs / kind / f"{name}.yaml"
    _edit(path, edit)
    loader = {"pipelines": load_pipeline, "serving": load_serving, "experiments": load_experiment}
    with pytest.raises(ConfigError) as err:
        loader[kind](name)
    assert str(path) in str(err.value) and field in str(err.value)


def test_dangling_references_fail(configs: Path) -> None:
    _edit(configs / "serving" / "ads_pfp_svac_baseline.yaml", lambda d: d.update(pipeline="nope"))
    with pytest.raises(ConfigError, match="dangling reference to pipeline 'nope'"):
        load_serving("ads_pfp_svac_baseline")
    with pytest.raises(ConfigError, match="serving"):
        load_experiment("ads_pfp_svac_sweep_rr20")


def test_missing_config_and_bad_yaml(configs: Path) -> None:
    with pytest.raises(ConfigError, match="no pipelines config named 'ghost'"):
        load_pipeline("ghost")
    bad = configs / "pipelines" / "broken.yaml"
    bad.write_text("name: broken\ncapture: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: invalid YAML"):
        load_pipeline("broken")


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "x y", "", ".hidden", "a" * 200])
def test_names_are_validated_against_traversal(configs: Path, name: str) -> None:
    with pytest.raises(ConfigError):
        load_serving(name) if "/" not in name else load_pipeline(name + "x")


def test_symbol_pattern_refuses_subject_injection() -> None:
    from spymaster_shared.names import check_symbol

    for bad in ("MNQ*", "MNQ>", "a b", "../x", "ES..H"):
        with pytest.raises(InvalidNameError):
            check_symbol(bad)
    assert check_symbol("BRK.B") == "BRK.B"


def test_unknown_product_and_override_keys(configs: Path) -> None:
    p = load_pipeline("mnq_60m_baseline")
    with pytest.raises(ConfigError, match="no product 'ZZ'"):
        resolve_engine_config(p.with_capture(symbol="ZZH6"))
    with pytest.raises(ConfigError, match="tau_nope"):
        resolve_engine_config(p, {"tau_nope": 1.0})
    cfg = resolve_engine_config(p, {"grid_radius_ticks": 20})
    assert cfg.n_grid_rows == 41
    equity = resolve_engine_config(p.with_capture(product_type="equity_mbo", symbol="QQQ"))
    assert equity.bucket_size_dollars == 0.01 and equity.bucket_price_int == 10_000_000


def test_yaml_sexagesimal_times_are_read_as_clock_times(configs: Path) -> None:
    path = configs / "pipelines" / "mnq_60m_baseline.yaml"
    path.write_text(path.read_text().replace('"09:25"', "09:25").replace('"10:25"', "10:25"))
    assert load_pipeline("mnq_60m_baseline").capture.start_time == "09:25"
