"""File names and hashing shared by the dataset writer and reader."""

from __future__ import annotations

import hashlib
from pathlib import Path

BINS_FILE = "bins.parquet"
GRID_FILE = "grid_clean.parquet"
MANIFEST_FILE = "manifest.json"
CHECKSUMS_FILE = "checksums.json"
DATA_FILES = (BINS_FILE, GRID_FILE, MANIFEST_FILE)
MANIFEST_FORMAT = 1


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
