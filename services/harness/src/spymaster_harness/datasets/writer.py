"""Generate a dataset: DBN files -> engine core -> parquet, atomically and idempotently.

Atomic: everything is written into a private temp directory beside the final one, fsynced,
then renamed into place. Two processes generating the same id race only on the rename:
the loser discards its copy (the content is byte-identical by construction) and verifies
the winner's. An existing dataset is verified, never regenerated over; a corrupted one is
refused with a DatasetError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from spymaster_engine.core import EngineStats, FeatureEngine, run_engine
from spymaster_harness.datasets.files import (
    BINS_FILE,
    CHECKSUMS_FILE,
    DATA_FILES,
    GRID_FILE,
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    sha256_file,
)
from spymaster_harness.datasets.reader import verify_dataset
from spymaster_shared.config import PipelineSpec, resolve_engine_config
from spymaster_shared.config.runtime import EngineConfig
from spymaster_shared.dbn.reader import iter_mbo, open_mbo
from spymaster_shared.dbn.sources import capture_files
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.paths import dataset_dir, datasets_dir

# lz4: the fastest to write and to read back of zstd-1/lz4/snappy/none on a 36,000-bin
# grid (1.4 s write, 2.1 s read, 0.79 GB), which is what `harness run` pays per dataset load.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "lz4",
    "use_dictionary": False,
    "write_statistics": False,
}


class _HashingFile(io.RawIOBase):
    """A write-only file that feeds sha256 as it writes, so no second pass over the data."""

    def __init__(self, path: Path):
        self._f = path.open("wb")
        self.sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:  # type: ignore[override]
        view = memoryview(b)
        self.sha256.update(view)
        return self._f.write(view)

    def close(self) -> None:
        if not self.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
        super().close()


def ensure_dataset(
    pipeline: PipelineSpec, *, progress: bool = True, data_root: Path | None = None
) -> str:
    """The dataset id of ``pipeline``, generating the dataset first if it is missing."""
    generate_dataset(pipeline, progress=progress, data_root=data_root)
    return pipeline.dataset_id()


def generate_dataset(
    pipeline: PipelineSpec, *, progress: bool = True, data_root: Path | None = None
) -> Path:
    """Write the dataset of ``pipeline`` (idempotent); return its directory."""
    dataset_id = pipeline.dataset_id()
    final = dataset_dir(dataset_id, data_root)
    if final.exists():
        verify_dataset(final)
        return final
    cfg = resolve_engine_config(pipeline)
    files = capture_files(pipeline.capture, data_root)
    for f in files:
        open_mbo(f).instrument_ids(cfg.symbol)  # fails fast on a missing symbol
    frames, stats = _run(cfg, files, progress)

    parent = datasets_dir(data_root)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".tmp-{dataset_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _write(tmp, pipeline, cfg, files, frames, stats)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.exists():
                raise
            # another process won the race (with identical content): trust only what we verify
            shutil.rmtree(tmp, ignore_errors=True)
            verify_dataset(final)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _chunks(cfg: EngineConfig, files: list[Path]) -> Iterator[np.ndarray]:
    for path in files:
        # one chunk at a time (run_engine): decompress every chunk into the same buffer
        for chunk in iter_mbo(path, cfg.symbol, reuse_buffer=True):
            if len(chunk) and int(chunk["ts_event"][0]) >= cfg.capture_end_ns:
                return
            yield chunk


def _run(cfg: EngineConfig, files: list[Path], progress: bool) -> tuple[GridFrames, dict]:
    engine = FeatureEngine(cfg)
    span = max(cfg.capture_end_ns - cfg.warmup_start_ns, 1)
    bar = _progress(progress)
    with bar:
        task = bar.add_task(f"generate {cfg.pipeline_name}", total=100.0)

        def chunks() -> Iterator[np.ndarray]:
            for chunk in _chunks(cfg, files):
                yield chunk  # processed before the next one is asked for
                last = int(chunk["ts_event"][-1]) if len(chunk) else cfg.warmup_start_ns
                done = min(max(last - cfg.warmup_start_ns, 0) / span, 1.0)
                bar.update(task, completed=100.0 * done)

        # every bin straight into one buffer of the capture window: no per-chunk buffers
        # and no concatenation copy of the ~1 GB grid
        frames = run_engine(cfg, chunks(), engine=engine)
        bar.update(task, completed=100.0)
    return frames, _stats_dict(engine.stats)


def _stats_dict(stats: EngineStats) -> dict[str, Any]:
    return dataclasses.asdict(stats)


def _progress(enabled: bool):
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


def _write(
    tmp: Path,
    pipeline: PipelineSpec,
    cfg: EngineConfig,
    files: list[Path],
    frames: GridFrames,
    stats: dict[str, Any],
) -> None:
    checksums: dict[str, str] = {}
    for name, table in ((BINS_FILE, frames.bins_table()), (GRID_FILE, frames.grid_clean_table())):
        with _HashingFile(tmp / name) as f:
            pq.write_table(table, f, row_group_size=1 << 20, **PARQUET_OPTIONS)
        checksums[name] = f.sha256.hexdigest()
    n = frames.n_bins
    manifest = {
        "format": MANIFEST_FORMAT,
        "dataset_id": pipeline.dataset_id(),
        "pipeline_name": pipeline.name,
        "pipeline_code_version": pipeline.pipeline_code_version,
        "spec": pipeline.model_dump(mode="json"),
        "engine_config": cfg.model_dump(mode="json"),
        "instrument": {
            "product_type": cfg.product_type,
            "symbol": cfg.symbol,
            "dt": cfg.dt,
            "start_time": cfg.start_time,
            "end_time": cfg.end_time,
            "tick_size": cfg.tick_size,
            "bucket_size_dollars": cfg.bucket_size_dollars,
            "grid_radius_ticks": cfg.grid_radius_ticks,
            "cell_width_ms": cfg.cell_width_ms,
        },
        "source_files": [
            {"name": f.name, "size": f.stat().st_size, "sha256": sha256_file(f)} for f in files
        ],
        "row_counts": {"bins": n, "grid_clean": n * frames.n_rows},
        "time_range": {
            "capture_start_ns": cfg.capture_start_ns,
            "capture_end_ns": cfg.capture_end_ns,
            "warmup_start_ns": cfg.warmup_start_ns,
            "first_bin_start_ns": int(frames.bins["bin_start_ns"][0]) if n else None,
            "last_bin_end_ns": int(frames.bins["bin_end_ns"][-1]) if n else None,
        },
        "engine_stats": {k: _jsonable(v) for k, v in sorted(stats.items())},
    }
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    checksums[MANIFEST_FILE] = sha256_file(tmp / MANIFEST_FILE)
    assert set(checksums) == set(DATA_FILES)
    (tmp / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2, sort_keys=True) + "\n")
    for name in (MANIFEST_FILE, CHECKSUMS_FILE):
        _fsync_file(tmp / name)
    _fsync_dir(tmp)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
