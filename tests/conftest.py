"""Fixtures shared across the test tree: a synthetic MBO session and a tmp config root.

The synthetic session is written once per test run through the real ``spymaster synth``
command (the README's embedded default data), so every consumer reads a genuine DBN file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / "tests" / "data" / "databento"  # real Databento files, committed

# A short session: 09:20-09:30 New York time on the default date.
SYNTH_SYMBOL = "MNQH6"
SYNTH_DATE = "2026-02-06"
SYNTH_START = "09:20"
SYNTH_END = "09:30"
SYNTH_SEED = 7


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True):
    """Run a console script of the workspace (``spymaster``/``harness``) as users do."""
    exe = Path(sys.executable).with_name(args[0])
    return subprocess.run(
        [str(exe), *args[1:]], capture_output=True, text=True, env=env, check=check
    )


@pytest.fixture(scope="session")
def synthetic_dbn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-minute synthetic MNQH6 DBN file (09:20-09:30 NY), written by ``spymaster synth``."""
    out = tmp_path_factory.mktemp("synth") / "synth-mnqh6-20260206.mbo.dbn.zst"
    run_cli(
        "spymaster", "synth", "--symbol", SYNTH_SYMBOL, "--date", SYNTH_DATE,
        "--start", SYNTH_START, "--end", SYNTH_END, "--seed", str(SYNTH_SEED), "-o", str(out),
    )  # fmt: skip
    assert out.is_file()
    return out


@pytest.fixture
def config_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of configs/, made the config root for this test."""
    root = tmp_path / "configs"
    shutil.copytree(REPO / "configs", root)
    monkeypatch.setenv("SPYMASTER_CONFIG_ROOT", str(root))
    return root


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "lake"
    root.mkdir()
    monkeypatch.setenv("SPYMASTER_DATA_ROOT", str(root))
    return root


def write_pipeline(config_root: Path, name: str, source: Path, **pipeline: object) -> Path:
    """A small PipelineSpec over ``source``: capture 09:25-09:28 NY with a 3-minute warmup."""
    spec = {
        "name": name,
        "pipeline_code_version": 1,
        "capture": {
            "product_type": "future_mbo",
            "symbol": SYNTH_SYMBOL,
            "dt": SYNTH_DATE,
            "start_time": "09:25",
            "end_time": "09:28",
            "source": str(source),
        },
        "pipeline": {"warmup_minutes": 3, **pipeline},
    }
    path = config_root / "pipelines" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def small_pipeline(config_root: Path, synthetic_dbn: Path) -> Path:
    return write_pipeline(config_root, "small_test", synthetic_dbn)
