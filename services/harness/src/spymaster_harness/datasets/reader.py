"""Load a dataset, verifying every file against ``checksums.json`` first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spymaster_harness.datasets.files import (
    BINS_FILE,
    CHECKSUMS_FILE,
    DATA_FILES,
    GRID_FILE,
    MANIFEST_FILE,
    sha256_file,
)
from spymaster_shared.errors import DatasetError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.paths import dataset_dir, datasets_dir


@dataclass(frozen=True)
class Dataset:
    dataset_id: str
    path: Path
    frames: GridFrames
    manifest: dict[str, Any]


def verify_dataset(path: Path) -> dict[str, Any]:
    """Check completeness and sha256 of every file; return the manifest."""
    sums_path = path / CHECKSUMS_FILE
    if not sums_path.is_file():
        raise DatasetError(f"{path}: incomplete dataset (no {CHECKSUMS_FILE})")
    try:
        sums = json.loads(sums_path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{sums_path}: not valid JSON ({exc})") from None
    for name in DATA_FILES:
        f = path / name
        if not f.is_file():
            raise DatasetError(f"{f}: missing from dataset")
        if sums.get(name) != sha256_file(f):
            raise DatasetError(f"{f}: checksum mismatch (dataset corrupted; refusing to use it)")
    return json.loads((path / MANIFEST_FILE).read_text())


def load_dataset(dataset_id: str, data_root: Path | None = None) -> Dataset:
    path = dataset_dir(dataset_id, data_root)
    if not path.is_dir():
        raise DatasetError(f"{path}: no dataset {dataset_id!r} (run `harness generate` first)")
    manifest = verify_dataset(path)
    bins = pq.read_table(path / BINS_FILE)
    frames = GridFrames.from_tables(bins, pq.read_table(path / GRID_FILE))
    expected = manifest["row_counts"]["bins"]
    if frames.n_bins != expected:
        raise DatasetError(f"{path}: {frames.n_bins} bins, manifest says {expected}")
    return Dataset(dataset_id=dataset_id, path=path, frames=frames, manifest=manifest)


def list_datasets(data_root: Path | None = None) -> list[dict[str, Any]]:
    """Datasets present under the data root (complete ones only), newest pipeline names first."""
    root = datasets_dir(data_root)
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        mpath = d / MANIFEST_FILE
        if not (d / CHECKSUMS_FILE).is_file() or not mpath.is_file():
            continue
        m = json.loads(mpath.read_text())
        inst = m.get("instrument", {})
        out.append(
            {
                "dataset_id": d.name,
                "pipeline": m.get("pipeline_name"),
                "symbol": inst.get("symbol"),
                "dt": inst.get("dt"),
                "start_time": inst.get("start_time"),
                "end_time": inst.get("end_time"),
                "n_bins": m.get("row_counts", {}).get("bins"),
                "path": str(d),
            }
        )
    return out
