"""Engine checkpoints: the engine's state arrays as a versioned ``.npz`` blob (never pickle).

Layout: one ``.npz`` (zip, deflated at level 1) holding every state array by name plus ``__meta__``,
a UTF-8 JSON document ``{"format": "spymaster-engine-checkpoint", "version": N, ...}`` stored
as a uint8 array. Loading uses ``allow_pickle=False`` and checks the format, version,
the engine config version, and every array's dtype and shape before anything is used.
The service stores these bytes on disk (:func:`write_checkpoint_file`) or in an object store.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from spymaster_shared.errors import SpymasterError

FORMAT = "spymaster-engine-checkpoint"
VERSION = 1
_META = "__meta__"
DEFLATE_LEVEL = 1


class CheckpointError(SpymasterError):
    """A checkpoint is corrupt, of another format/version, or for another engine config."""


def dump_state(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    """Serialise named arrays + JSON-able ``meta`` into checkpoint bytes."""
    doc = {"format": FORMAT, "version": VERSION, **meta, "arrays": sorted(arrays)}
    buf = io.BytesIO()
    payload = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    payload[_META] = np.frombuffer(json.dumps(doc, sort_keys=True).encode(), dtype=np.uint8)
    # what np.savez_compressed writes, at deflate level 1: ~3x faster than its default
    # level for ~15% more bytes (the state is mostly zeros)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=DEFLATE_LEVEL) as zf:
        for name, arr in payload.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
    return buf.getvalue()


def load_state(
    blob: bytes,
    expected: dict[str, tuple[np.dtype, tuple[int, ...]]],
    *,
    config_version: str,
    resizable: tuple[str, ...] = (),
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Parse and validate checkpoint bytes; returns (arrays, meta).

    ``expected`` maps each array name to its dtype and shape; arrays named in ``resizable``
    may differ in their first dimension (the order table grows).
    """
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            files = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"engine checkpoint is not a readable .npz: {exc}") from None
    if _META not in files:
        raise CheckpointError("engine checkpoint has no __meta__ record")
    try:
        meta = json.loads(files.pop(_META).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"engine checkpoint metadata is not JSON: {exc}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"not an engine checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"engine checkpoint version {meta.get('version')!r}, this engine reads {VERSION}"
        )
    if meta.get("config_version") != config_version:
        raise CheckpointError(
            f"engine checkpoint was taken with config {meta.get('config_version')!r}, "
            f"not {config_version!r}"
        )
    if set(files) != set(expected):
        raise CheckpointError(
            f"engine checkpoint arrays {sorted(files)} differ from expected {sorted(expected)}"
        )
    for name, (dtype, shape) in expected.items():
        arr = files[name]
        same_shape = arr.shape == shape or (
            name in resizable and arr.shape[1:] == shape[1:] and _pow2(arr.shape[0])
        )
        if arr.dtype != dtype or not same_shape:
            raise CheckpointError(
                f"engine checkpoint array {name!r} is {arr.dtype}{arr.shape}, "
                f"expected {dtype}{shape}"
            )
        files[name] = np.array(arr, copy=True)  # writable, owned
    return files, meta


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def write_checkpoint_file(path: str | Path, blob: bytes) -> None:
    """Write checkpoint bytes atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read engine checkpoint: {exc}") from None
