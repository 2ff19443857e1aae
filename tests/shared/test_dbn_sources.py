"""capture_files: explicit path/glob, or the data-root layout by date."""

from __future__ import annotations

from pathlib import Path

import pytest

from spymaster_shared.config.pipeline import CaptureConfig
from spymaster_shared.dbn.sources import capture_files
from spymaster_shared.errors import DbnInputError
from spymaster_shared.paths import raw_dir


def capture(**changes: str) -> CaptureConfig:
    fields = {
        "product_type": "future_mbo",
        "symbol": "MNQH6",
        "dt": "2026-02-06",
        "start_time": "09:25",
        "end_time": "10:25",
    }
    return CaptureConfig(**{**fields, **changes})


def test_data_root_layout_by_date(tmp_path: Path) -> None:
    directory = raw_dir("future_mbo", "MNQH6", tmp_path)
    directory.mkdir(parents=True)
    for name in (
        "b-20260206.mbo.dbn.zst",
        "a-20260206.mbo.dbn",
        "c-20260205.mbo.dbn.zst",  # other day
        "d-20260206.mbo.csv",  # not DBN
    ):
        (directory / name).write_bytes(b"")
    found = capture_files(capture(), tmp_path)
    assert [p.name for p in found] == ["a-20260206.mbo.dbn", "b-20260206.mbo.dbn.zst"]


def test_data_root_default_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYMASTER_DATA_ROOT", str(tmp_path))
    directory = raw_dir("future_mbo", "MNQH6")
    directory.mkdir(parents=True)
    (directory / "synth-mnqh6-20260206.mbo.dbn.zst").write_bytes(b"")
    assert len(capture_files(capture())) == 1


def test_nothing_found_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(DbnInputError, match=r"no \*20260206\*.*symbol=MNQ/table=market_by_order"):
        capture_files(capture(), tmp_path)


def test_source_path_and_glob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x1.dbn.zst").write_bytes(b"")
    (tmp_path / "x0.dbn.zst").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert capture_files(capture(source="x1.dbn.zst")) == [Path("x1.dbn.zst")]
    found = capture_files(capture(source=str(tmp_path / "x*.dbn.zst")))
    assert [p.name for p in found] == ["x0.dbn.zst", "x1.dbn.zst"]
    with pytest.raises(DbnInputError, match=r"no DBN file matches capture\.source 'y\*\.dbn'"):
        capture_files(capture(source="y*.dbn"))
