"""Read DBN (v1-v3) MBO files, plain or zstd-compressed, as numpy arrays of ``MBO_DTYPE``.

The metadata header is decoded by ``databento_dbn.Metadata.decode``; the record body is
viewed in place with ``np.frombuffer`` in chunks (the way ``databento.DBNStore`` does),
so there is no Python object per record. The MBO record is 56 bytes in every DBN version.
See ``docs/dbn-input.md``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import databento_dbn
import numpy as np
import zstandard

from spymaster_shared.dbn.records import MBO_DTYPE, MBO_LENGTH_WORDS, MBO_RTYPE
from spymaster_shared.errors import DbnInputError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DBN_MAGIC = b"DBN"
SUPPORTED_VERSIONS = (1, 2, 3)
UNDEF_TIMESTAMP = (1 << 64) - 1

_READ_SIZE = 1 << 20
_TS_OUT_BYTES = 8


@dataclass(frozen=True)
class DbnFileInfo:
    """What a DBN MBO file's metadata says, plus its symbol -> instrument id mappings."""

    path: Path
    version: int
    dataset: str
    schema: str
    start_ns: int
    end_ns: int | None
    stype_in: str | None
    stype_out: str
    symbols: tuple[str, ...]
    # symbol -> instrument ids, read from the metadata's symbology mappings (both directions:
    # raw_symbol -> instrument_id files and instrument_id -> raw_symbol files).
    symbol_map: dict[str, tuple[int, ...]] = field(hash=False, repr=False)
    record_count: int | None
    ts_out: bool = False
    # Where the record body starts in the (decompressed) stream.
    body_offset: int = field(default=0, repr=False)

    @property
    def record_size(self) -> int:
        return MBO_DTYPE.itemsize + (_TS_OUT_BYTES if self.ts_out else 0)

    def instrument_ids(self, symbol: str) -> np.ndarray:
        """Instrument ids ``symbol`` maps to in this file (uint32, sorted, unique).

        Exact match first, then case-insensitive; a numeric symbol equal to a mapped
        instrument id selects that id. Raises DbnInputError listing the symbols present.
        """
        ids = self.symbol_map.get(symbol)
        if ids is None:
            folded = {k.casefold(): v for k, v in self.symbol_map.items()}
            ids = folded.get(symbol.casefold())
        if ids is None and symbol.isdigit():
            known = {i for v in self.symbol_map.values() for i in v}
            if int(symbol) in known:
                ids = (int(symbol),)
        if ids is None:
            present = ", ".join(sorted(self.symbol_map)) or "none (no symbology mappings)"
            raise DbnInputError(
                f"symbol {symbol!r} not in file; symbols present: {present}", file=self.path
            )
        return np.unique(np.asarray(ids, dtype=np.uint32))


# --------------------------------------------------------------------------- byte stream


def _is_zstd(head: bytes) -> bool:
    return head[:4] == ZSTD_MAGIC


def _raw_chunks(fh: BinaryIO, path: Path) -> Iterator[bytes]:
    """Decompressed bytes of ``fh``: plain DBN as-is, zstd frame by frame (streaming).

    ``zstandard``'s stream reader silently accepts a truncated last frame, so frames are
    decoded one ``decompressobj`` at a time and an unfinished frame is reported.
    """
    head = fh.read(4)
    if _is_zstd(head):
        dctx = zstandard.ZstdDecompressor()
        obj = dctx.decompressobj()
        fed = False
        data = head
        while True:
            if not data:
                data = fh.read(_READ_SIZE)
                if not data:
                    break
            try:
                out = obj.decompress(data)
            except zstandard.ZstdError as exc:
                raise DbnInputError(f"corrupt zstd data: {exc}", file=path) from None
            fed = True
            if out:
                yield out
            if obj.eof:
                data = obj.unused_data
                obj = dctx.decompressobj()
                fed = False
            else:
                data = b""
        if fed:
            raise DbnInputError("truncated zstd frame (file cut short?)", file=path)
    else:
        if head:
            yield head
        while chunk := fh.read(_READ_SIZE):
            yield chunk


class _Stream:
    """Pull exactly-sized pieces from an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = bytearray()
        self.consumed = 0

    def fill(self, n: int) -> bool:
        while len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._buf += chunk
        return True

    def read_exact(self, n: int) -> bytes | None:
        if not self.fill(n):
            return None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self.consumed += n
        return out

    @property
    def buffer(self) -> bytearray:
        return self._buf

    def more(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self._buf += chunk
        return True


# --------------------------------------------------------------------------- metadata


def _symbol_map(metadata: databento_dbn.Metadata) -> dict[str, tuple[int, ...]]:
    out: dict[str, set[int]] = {}
    for key, intervals in metadata.mappings.items():
        for interval in intervals:
            value = str(interval["symbol"])
            if value.isdigit() and not key.isdigit():
                out.setdefault(key, set()).add(int(value))
            elif key.isdigit() and value and not value.isdigit():
                out.setdefault(value, set()).add(int(key))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _read_metadata(stream: _Stream, path: Path) -> databento_dbn.Metadata:
    prelude = stream.read_exact(8)
    if prelude is None or prelude[:3] != DBN_MAGIC:
        raise DbnInputError("not a DBN file (no 'DBN' header)", file=path)
    version = prelude[3]
    if version not in SUPPORTED_VERSIONS:
        raise DbnInputError(f"unsupported DBN version {version} (supported: 1-3)", file=path)
    (length,) = struct.unpack("<I", prelude[4:8])
    body = stream.read_exact(length)
    if body is None:
        raise DbnInputError("truncated DBN metadata header", file=path)
    try:
        return databento_dbn.Metadata.decode(
            prelude + body, upgrade_policy=databento_dbn.VersionUpgradePolicy.AS_IS
        )
    except databento_dbn.DBNError as exc:
        raise DbnInputError(f"cannot decode DBN metadata: {exc}", file=path) from None


def _info(path: Path, metadata: databento_dbn.Metadata, body_offset: int) -> DbnFileInfo:
    schema = metadata.schema
    schema_name = str(schema) if schema is not None else None
    if schema_name != "mbo":
        raise DbnInputError(f"schema is {schema_name or 'mixed'}, expected mbo", file=path)
    record_size = MBO_DTYPE.itemsize + (_TS_OUT_BYTES if metadata.ts_out else 0)
    record_count = None
    with path.open("rb") as fh:
        plain = not _is_zstd(fh.read(4))
    if plain:
        body = path.stat().st_size - body_offset
        if body % record_size == 0:
            record_count = body // record_size
    end = metadata.end
    return DbnFileInfo(
        path=path,
        version=int(metadata.version),
        dataset=str(metadata.dataset),
        schema=schema_name,
        start_ns=int(metadata.start),
        end_ns=None if end is None or end == UNDEF_TIMESTAMP else int(end),
        stype_in=str(metadata.stype_in) if metadata.stype_in is not None else None,
        stype_out=str(metadata.stype_out),
        symbols=tuple(metadata.symbols),
        symbol_map=_symbol_map(metadata),
        record_count=record_count,
        ts_out=bool(metadata.ts_out),
        body_offset=body_offset,
    )


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise DbnInputError("no such file", file=path)
    if not path.is_file():
        raise DbnInputError("not a regular file", file=path)


def open_mbo(path: str | Path) -> DbnFileInfo:
    """Decode the metadata of a DBN MBO file (v1-v3, plain or .zst) without reading records."""
    path = Path(path)
    _check_exists(path)
    with path.open("rb") as fh:
        stream = _Stream(_raw_chunks(fh, path))
        metadata = _read_metadata(stream, path)
        return _info(path, metadata, stream.consumed)


# --------------------------------------------------------------------------- records


def _view_records(buf: bytearray, n: int, info: DbnFileInfo, first_index: int) -> np.ndarray:
    """Copy ``n`` records from the front of ``buf`` into an owned MBO_DTYPE array."""
    size = info.record_size
    if info.ts_out:
        padded = np.dtype(
            {
                "names": list(MBO_DTYPE.names),
                "formats": [MBO_DTYPE.fields[k][0] for k in MBO_DTYPE.names],
                "offsets": [MBO_DTYPE.fields[k][1] for k in MBO_DTYPE.names],
                "itemsize": size,
            }
        )
        records = np.frombuffer(buf, dtype=padded, count=n).astype(MBO_DTYPE)
        expected_length = size // 4
    else:
        records = np.frombuffer(buf, dtype=MBO_DTYPE, count=n).copy()
        expected_length = MBO_LENGTH_WORDS
    bad = (records["rtype"] != MBO_RTYPE) | (records["length"] != expected_length)
    if bad.any():
        i = int(np.argmax(bad))
        raise DbnInputError(
            f"record {first_index + i} is not MBO (rtype 0x{int(records['rtype'][i]):02X}, "
            f"length {int(records['length'][i]) * 4} bytes)",
            file=info.path,
        )
    if info.ts_out:
        records["length"] = MBO_LENGTH_WORDS
    return records


def iter_mbo(
    path: str | Path, symbol: str | None = None, *, chunk_records: int = 1 << 20
) -> Iterator[np.ndarray]:
    """Yield MBO_DTYPE arrays (owned copies) of at most ``chunk_records`` records each.

    With ``symbol``, only records of the instrument ids it maps to through the file's
    symbology mappings are yielded (chunks may then be shorter, never empty).
    """
    if chunk_records <= 0:
        raise ValueError("chunk_records must be positive")
    path = Path(path)
    _check_exists(path)
    with path.open("rb") as fh:
        stream = _Stream(_raw_chunks(fh, path))
        info = _info(path, _read_metadata(stream, path), stream.consumed)
        ids = info.instrument_ids(symbol) if symbol is not None else None
        size = info.record_size
        want = chunk_records * size
        index = 0
        buf = stream.buffer
        while True:
            while len(buf) < want and stream.more():
                pass
            n = min(len(buf), want) // size
            if n == 0:
                break
            records = _view_records(buf, n, info, index)
            del buf[: n * size]
            index += n
            if ids is not None:
                records = _select(records, ids)
            if len(records):
                yield records
        if len(buf):
            raise DbnInputError(
                f"truncated DBN body: {len(buf)} trailing bytes after record {index} "
                f"(records are {size} bytes)",
                file=path,
            )


def _select(records: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Records of the instrument ids ``ids``; no copy when every record matches."""
    inst = records["instrument_id"]
    keep = inst == ids[0] if len(ids) == 1 else np.isin(np.ascontiguousarray(inst), ids)
    return records if keep.all() else records[keep]


def read_mbo(path: str | Path, symbol: str | None = None) -> np.ndarray:
    """The whole file (optionally filtered by ``symbol``) as one MBO_DTYPE array."""
    chunks = list(iter_mbo(path, symbol))
    if not chunks:
        return np.empty(0, dtype=MBO_DTYPE)
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate(chunks)
