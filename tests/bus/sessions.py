"""A short synthetic session for the bus tests: a tmp config root with a small pipeline and
serving spec whose capture names a synthetic DBN file (a few minutes, short warmup)."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from spymaster_shared.paths import config_root

PIPELINE = "bus_test_short"
SERVING = "bus_test_serving"


@dataclass(frozen=True)
class ShortSession:
    config_root: Path
    data_root: Path
    dbn: Path
    pipeline: str = PIPELINE
    serving: str = SERVING
    symbol: str = "MNQH6"
    dt: str = "2026-02-06"
    start_time: str = "09:24"
    end_time: str = "09:26"


def make_short_session(tmp: Path, minutes: int = 2, warmup_minutes: float = 2.0) -> ShortSession:
    from spymaster_shared.synth import SynthParams, write_synthetic

    data_root = tmp / "lake"
    cfg_root = tmp / "configs"
    shutil.copytree(config_root(), cfg_root)
    dbn = write_synthetic(
        SynthParams(start=dt.time(9, 20), end=dt.time(9, 24 + minutes, 30), seed=11),
        tmp / "synth" / "mnq_short.dbn",
    )
    end = f"09:{24 + minutes:02d}"
    pipeline = {
        "name": PIPELINE,
        "description": "short synthetic session for bus tests",
        "pipeline_code_version": 1,
        "capture": {
            "product_type": "future_mbo",
            "symbol": "MNQH6",
            "dt": "2026-02-06",
            "start_time": "09:24",
            "end_time": end,
            "source": str(dbn),
        },
        "pipeline": {"cell_width_ms": 100, "warmup_minutes": warmup_minutes},
    }
    (cfg_root / "pipelines" / f"{PIPELINE}.yaml").write_text(yaml.safe_dump(pipeline))
    serving = yaml.safe_load((cfg_root / "serving" / "ads_pfp_svac_baseline.yaml").read_text())
    serving["name"] = SERVING
    serving["pipeline"] = PIPELINE
    serving["scoring"]["zscore_window_bins"] = 60
    serving["scoring"]["zscore_min_periods"] = 20
    (cfg_root / "serving" / f"{SERVING}.yaml").write_text(yaml.safe_dump(serving))
    return ShortSession(cfg_root, data_root, dbn, end_time=end)
