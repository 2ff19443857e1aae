"""Immutable datasets: atomic, idempotent, checksummed, deterministic, safe under races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spymaster_harness.datasets import generate_dataset, list_datasets, load_dataset
from spymaster_shared.config import load_pipeline, resolve_engine_config
from spymaster_shared.errors import DatasetError, DbnInputError
from spymaster_shared.grid_schema import BIN_NAMES, CELL_NAMES
from spymaster_shared.paths import datasets_dir
from tests.conftest import run_cli, write_pipeline


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_generate_writes_the_four_files_with_consistent_content(
    small_pipeline: Path, data_root: Path
) -> None:
    spec = load_pipeline(small_pipeline)
    path = generate_dataset(spec, progress=False)
    assert path == datasets_dir() / spec.dataset_id()
    assert sorted(p.name for p in path.iterdir()) == [
        "bins.parquet", "checksums.json", "grid_clean.parquet", "manifest.json",
    ]  # fmt: skip
    ds = load_dataset(spec.dataset_id())
    cfg = resolve_engine_config(spec)
    frames = ds.frames
    assert frames.n_bins == cfg.n_bins == 1800  # 3 minutes of 100 ms bins
    assert frames.n_rows == 101
    assert set(frames.bins) == set(BIN_NAMES) and set(frames.cells) == set(CELL_NAMES)
    assert np.array_equal(frames.bins["bin_seq"], np.arange(1800))
    assert frames.bins["bin_start_ns"][0] == cfg.capture_start_ns
    assert frames.bins["bin_end_ns"][-1] == cfg.capture_end_ns
    assert np.array_equal(frames.cells["k"][0], np.arange(-50, 51))
    m = ds.manifest
    assert m["dataset_id"] == spec.dataset_id()
    assert m["row_counts"] == {"bins": 1800, "grid_clean": 1800 * 101}
    assert m["source_files"][0]["name"] == Path(spec.capture.source).name
    assert len(m["source_files"][0]["sha256"]) == 64
    assert frames.bins["book_valid"].mean() > 0.9
    assert list_datasets()[0]["dataset_id"] == spec.dataset_id()


def test_generation_is_deterministic_to_the_byte(
    small_pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_pipeline(small_pipeline)
    a = generate_dataset(spec, progress=False, data_root=tmp_path / "a")
    b = generate_dataset(spec, progress=False, data_root=tmp_path / "b")
    assert _files(a) == _files(b)


def test_generate_is_idempotent(small_pipeline: Path, data_root: Path) -> None:
    spec = load_pipeline(small_pipeline)
    path = generate_dataset(spec, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in path.iterdir()}
    assert generate_dataset(spec, progress=False) == path
    assert {p.name: p.stat().st_mtime_ns for p in path.iterdir()} == before


def test_corrupted_dataset_is_refused_not_regenerated(
    small_pipeline: Path, data_root: Path
) -> None:
    spec = load_pipeline(small_pipeline)
    path = generate_dataset(spec, progress=False)
    grid = path / "grid_clean.parquet"
    raw = bytearray(grid.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    grid.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_dataset(spec.dataset_id())
    with pytest.raises(DatasetError, match="checksum mismatch"):
        generate_dataset(spec, progress=False)
    assert grid.read_bytes() == bytes(raw)  # left for the user to inspect


def test_two_processes_generating_the_same_id_at_once(
    small_pipeline: Path, data_root: Path, config_root: Path
) -> None:
    code = (
        "import sys; from spymaster_shared.config import load_pipeline;"
        "from spymaster_harness.datasets import generate_dataset;"
        "print(generate_dataset(load_pipeline(sys.argv[1]), progress=False))"
    )
    env = dict(os.environ)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(small_pipeline)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    spec = load_pipeline(small_pipeline)
    assert {o[0].strip() for o in outs} == {str(datasets_dir() / spec.dataset_id())}
    assert [p.name for p in datasets_dir().iterdir()] == [spec.dataset_id()]  # no temp dirs left
    load_dataset(spec.dataset_id())


def test_missing_source_leaves_nothing_behind(config_root: Path, data_root: Path) -> None:
    path = write_pipeline(config_root, "ghost", data_root / "nope.dbn.zst")
    with pytest.raises(DbnInputError):
        generate_dataset(load_pipeline(path), progress=False)
    assert not datasets_dir().exists() or not any(datasets_dir().iterdir())


def test_truncated_source_leaves_nothing_behind(
    config_root: Path, data_root: Path, synthetic_dbn: Path
) -> None:
    cut = data_root / "cut.mbo.dbn.zst"
    cut.write_bytes(synthetic_dbn.read_bytes()[: synthetic_dbn.stat().st_size // 2])
    path = write_pipeline(config_root, "cut", cut)
    with pytest.raises(DbnInputError, match=r"cut\.mbo\.dbn\.zst"):
        generate_dataset(load_pipeline(path), progress=False)
    assert not datasets_dir().exists() or not any(datasets_dir().iterdir())


def test_cli_generate_and_one_line_errors(
    small_pipeline: Path, data_root: Path, config_root: Path
) -> None:
    env = dict(os.environ)
    out = run_cli("harness", "generate", str(small_pipeline), "--quiet", env=env)
    spec = load_pipeline(small_pipeline)
    assert spec.dataset_id() in out.stdout and "written" in out.stdout
    again = run_cli("harness", "generate", str(small_pipeline), "-q", env=env)
    assert "exists (verified)" in again.stdout
    listing = run_cli("harness", "list-datasets", env=env)
    assert spec.dataset_id() in listing.stdout

    bad = small_pipeline.with_name("bad.yaml")
    bad.write_text(small_pipeline.read_text().replace("warmup_minutes", "warmup_minutez"))
    res = run_cli("harness", "generate", str(bad), env=env, check=False)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "pipeline.warmup_minutez" in lines[0]

    wrong_symbol = write_pipeline(config_root, "wrong_symbol", Path(spec.capture.source))
    wrong_symbol.write_text(wrong_symbol.read_text().replace("MNQH6", "MNQM9"))
    res = run_cli("harness", "generate", str(wrong_symbol), env=env, check=False)
    assert (
        res.returncode != 0 and "MNQM9" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    )


def test_manifest_is_plain_json_without_absolute_paths(
    small_pipeline: Path, data_root: Path
) -> None:
    spec = load_pipeline(small_pipeline)
    path = generate_dataset(spec, progress=False)
    m = json.loads((path / "manifest.json").read_text())
    assert all("/" not in f["name"] for f in m["source_files"])
    assert m["engine_config"]["grid_radius_ticks"] == 50
