"""Write genuine DBN MBO files: metadata from ``databento_dbn.Metadata.encode``, raw records.

Used by the synthetic market and by tests that craft inputs. The write is atomic: a
temporary file in the target directory is renamed over the target.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import databento_dbn
import numpy as np
import zstandard

from spymaster_shared.dbn.records import MBO_DTYPE

_WRITE_RECORDS = 1 << 18
_NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class _Interval:
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclass(frozen=True)
class _Mapping:
    raw_symbol: str
    intervals: list[_Interval]


def _utc_date(ns: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ns // _NS_PER_DAY)


def mbo_metadata(
    *,
    dataset: str,
    symbols: Sequence[str],
    instrument_ids: Sequence[int],
    start_ns: int,
    end_ns: int,
    version: int = 3,
) -> databento_dbn.Metadata:
    """DBN metadata for an MBO file whose raw symbols map to the given instrument ids."""
    if len(symbols) != len(instrument_ids):
        raise ValueError("one instrument id per symbol")
    start_date = _utc_date(start_ns)
    # Mapping intervals are whole UTC days, end exclusive.
    end_date = _utc_date(max(end_ns - 1, start_ns)) + dt.timedelta(days=1)
    mappings = [
        _Mapping(sym, [_Interval(start_date, end_date, str(int(iid)))])
        for sym, iid in zip(symbols, instrument_ids, strict=True)
    ]
    return databento_dbn.Metadata(
        dataset=dataset,
        start=int(start_ns),
        end=int(end_ns),
        stype_in=databento_dbn.SType.RAW_SYMBOL,
        stype_out=databento_dbn.SType.INSTRUMENT_ID,
        schema=databento_dbn.Schema.MBO,
        symbols=list(symbols),
        partial=[],
        not_found=[],
        mappings=mappings,
        version=version,
    )


def write_mbo_dbn(
    path: str | Path,
    records: np.ndarray,
    *,
    dataset: str,
    symbol: str | Sequence[str],
    instrument_id: int | Sequence[int],
    start_ns: int,
    end_ns: int,
    version: int = 3,
    compress: bool | None = None,
) -> Path:
    """Write ``records`` (MBO_DTYPE) as a DBN file; return the path written.

    ``symbol`` and ``instrument_id`` may be sequences of equal length (one symbology
    mapping per contract). ``compress=None`` compresses when the name ends in ``.zst``.
    """
    path = Path(path)
    if records.dtype != MBO_DTYPE:
        raise TypeError(f"records must have MBO_DTYPE, got {records.dtype}")
    symbols = [symbol] if isinstance(symbol, str) else list(symbol)
    ids = (
        [int(instrument_id)]
        if isinstance(instrument_id, int | np.integer)
        else list(map(int, instrument_id))
    )
    header = mbo_metadata(
        dataset=dataset,
        symbols=symbols,
        instrument_ids=ids,
        start_ns=start_ns,
        end_ns=end_ns,
        version=version,
    ).encode()
    if compress is None:
        compress = path.suffix == ".zst"
    records = np.ascontiguousarray(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            if compress:
                cctx = zstandard.ZstdCompressor(level=3)
                with cctx.stream_writer(raw, closefd=False) as out:
                    _write_body(out, header, records)
            else:
                _write_body(raw, header, records)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _write_body(out: BinaryIO, header: bytes, records: np.ndarray) -> None:
    out.write(header)
    for start in range(0, len(records), _WRITE_RECORDS):
        out.write(records[start : start + _WRITE_RECORDS].tobytes())
