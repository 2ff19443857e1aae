"""Read DBN (v1-v3) MBO files, plain or zstd-compressed, as numpy arrays of ``MBO_DTYPE``.

The metadata header is decoded by ``databento_dbn.Metadata.decode``; the record body is
viewed in place with ``np.frombuffer`` in chunks (the way ``databento.DBNStore`` does),
so there is no Python object per record. The MBO record is 56 bytes in every DBN version.
See ``docs/dbn-input.md``.
"""

from __future__ import annotations

import mmap
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
# zstd frame format (RFC 8878): magic numbers, header field sizes, block types
_ZSTD_MAGIC_LE = 0xFD2FB528
_SKIPPABLE_MAGIC = 0x184D2A50
_SKIPPABLE_MASK = 0xFFFFFFF0
_DICT_ID_BYTES = (0, 1, 2, 4)
_FCS_BYTES = ((0, 2, 4, 8), (1, 2, 4, 8))  # by single-segment flag, then FCS flag
_RLE_BLOCK = 1


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


def _check_zstd_frames(path: Path) -> None:
    """Raise unless ``path`` is a sequence of whole zstd frames.

    ``zstandard``'s stream reader silently accepts a truncated last frame, so after the
    stream ends the frame and block headers are walked (nothing is decompressed): a frame
    whose blocks or checksum run past the end of the file is an error.
    """
    size = path.stat().st_size
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        pos = 0
        while pos + 8 <= size:
            magic = int.from_bytes(m[pos : pos + 4], "little")
            if magic & _SKIPPABLE_MASK == _SKIPPABLE_MAGIC:
                pos += 8 + int.from_bytes(m[pos + 4 : pos + 8], "little")
                continue
            if magic != _ZSTD_MAGIC_LE:
                raise DbnInputError(f"corrupt zstd data: no frame at byte {pos}", file=path)
            fhd = m[pos + 4]
            single = (fhd >> 5) & 1
            pos += 5 + (1 - single) + _DICT_ID_BYTES[fhd & 3] + _FCS_BYTES[single][fhd >> 6]
            last = 0
            while not last and pos + 3 <= size:
                header = int.from_bytes(m[pos : pos + 3], "little")
                last = header & 1
                pos += 3 + (1 if (header >> 1) & 3 == _RLE_BLOCK else header >> 3)
            pos += 4 * ((fhd >> 2) & 1)  # content checksum
            if not last:
                break
    if pos != size:
        raise DbnInputError("truncated zstd frame (file cut short?)", file=path)


class _Source:
    """The decompressed byte stream of a DBN file (plain, or zstd frames read across)."""

    def __init__(self, fh: BinaryIO, path: Path):
        self._path = path
        self._zstd = _is_zstd(fh.read(4))
        fh.seek(0)
        if self._zstd:
            dctx = zstandard.ZstdDecompressor()
            self._raw = dctx.stream_reader(fh, read_size=_READ_SIZE, read_across_frames=True)
        else:
            self._raw = fh
        self.consumed = 0

    def readinto(self, buf: memoryview) -> int:
        """Fill ``buf``; fewer bytes only at the end of the stream."""
        n = 0
        while n < len(buf):
            try:
                k = self._raw.readinto(buf[n:])
            except zstandard.ZstdError as exc:
                raise DbnInputError(f"corrupt zstd data: {exc}", file=self._path) from None
            if not k:
                if self._zstd:
                    _check_zstd_frames(self._path)
                break
            n += k
        self.consumed += n
        return n

    def read_exact(self, n: int) -> bytes | None:
        buf = bytearray(n)
        return bytes(buf) if self.readinto(memoryview(buf)) == n else None


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


def _read_metadata(stream: _Source, path: Path) -> databento_dbn.Metadata:
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
        stream = _Source(fh, path)
        metadata = _read_metadata(stream, path)
        return _info(path, metadata, stream.consumed)


# --------------------------------------------------------------------------- records


def _record_dtype(info: DbnFileInfo) -> np.dtype:
    """MBO_DTYPE, padded to the file's record size (``ts_out`` files carry 8 more bytes)."""
    if not info.ts_out:
        return MBO_DTYPE
    return np.dtype(
        {
            "names": list(MBO_DTYPE.names),
            "formats": [MBO_DTYPE.fields[k][0] for k in MBO_DTYPE.names],
            "offsets": [MBO_DTYPE.fields[k][1] for k in MBO_DTYPE.names],
            "itemsize": info.record_size,
        }
    )


def _check_records(records: np.ndarray, info: DbnFileInfo, first_index: int) -> np.ndarray:
    """``records`` as MBO_DTYPE after checking every header is an MBO record's."""
    expected_length = info.record_size // 4
    bad = (records["rtype"] != MBO_RTYPE) | (records["length"] != expected_length)
    if bad.any():
        i = int(np.argmax(bad))
        raise DbnInputError(
            f"record {first_index + i} is not MBO (rtype 0x{int(records['rtype'][i]):02X}, "
            f"length {int(records['length'][i]) * 4} bytes)",
            file=info.path,
        )
    if info.ts_out:
        records = records.astype(MBO_DTYPE)
        records["length"] = MBO_LENGTH_WORDS
    return records


def iter_mbo(
    path: str | Path,
    symbol: str | None = None,
    *,
    chunk_records: int = 1 << 20,
    reuse_buffer: bool = False,
) -> Iterator[np.ndarray]:
    """Yield MBO_DTYPE arrays (owned copies) of at most ``chunk_records`` records each.

    With ``symbol``, only records of the instrument ids it maps to through the file's
    symbology mappings are yielded (chunks may then be shorter, never empty). Records are
    decompressed straight into each chunk's array (no intermediate byte buffers).
    ``reuse_buffer``: every chunk is decompressed into the same array, so a chunk is only
    valid until the next one is asked for (for consumers that process one chunk at a
    time, like the engine: fresh memory is not touched, page-faulted, for every chunk).
    """
    if chunk_records <= 0:
        raise ValueError("chunk_records must be positive")
    path = Path(path)
    _check_exists(path)
    with path.open("rb") as fh:
        stream = _Source(fh, path)
        info = _info(path, _read_metadata(stream, path), stream.consumed)
        ids = info.instrument_ids(symbol) if symbol is not None else None
        dtype = _record_dtype(info)
        size = info.record_size
        index = 0
        buffer = np.empty(chunk_records, dtype=dtype) if reuse_buffer else None
        while True:
            records = buffer if buffer is not None else np.empty(chunk_records, dtype=dtype)
            got = stream.readinto(memoryview(records.view(np.uint8)))
            n = got // size
            if got % size:
                raise DbnInputError(
                    f"truncated DBN body: {got % size} trailing bytes after record {index + n} "
                    f"(records are {size} bytes)",
                    file=path,
                )
            if n == 0:
                break
            # a short last chunk is copied out rather than pin a mostly unused buffer
            short = 2 * n <= chunk_records and buffer is None
            records = _check_records(records[:n].copy() if short else records[:n], info, index)
            index += n
            if ids is not None:
                records = _select(records, ids)
            if len(records):
                yield records
            if n < chunk_records:
                break


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
