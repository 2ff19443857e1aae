"""DBN MBO reader: conformance with databento's own decoder on real files, and bad input."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import databento
import databento_dbn
import numpy as np
import pytest
import zstandard

from spymaster_shared.dbn.reader import iter_mbo, open_mbo, read_mbo
from spymaster_shared.dbn.records import MBO_DTYPE
from spymaster_shared.dbn.writer import write_mbo_dbn
from spymaster_shared.errors import DbnInputError

DATA = Path(__file__).resolve().parents[1] / "data" / "databento"
ESM4 = DATA / "glbx-mdp3-esm4-20240508-0000-2s.mbo.dbn.zst"
ARL = DATA / "xnas-itch-arl-20250717.mbo.dbn.zst"
V3_PLAIN = DATA / "tiny-test_data.mbo.v3.dbn"
REAL_FILES = [*sorted(DATA.glob("tiny-*")), ESM4, ARL]


def databento_records(path: Path) -> np.ndarray:
    return databento.DBNStore.from_file(path).to_ndarray()


def assert_same_records(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == MBO_DTYPE
    assert len(ours) == len(theirs)
    for name in MBO_DTYPE.names:
        expected = theirs[name]
        if expected.dtype.kind == "S":  # databento gives action/side as 1-byte strings
            expected = expected.view(np.uint8)
        np.testing.assert_array_equal(ours[name], expected, err_msg=name)


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_files_match_databento(path: Path) -> None:
    ours = read_mbo(path)
    assert_same_records(ours, databento_records(path))


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_metadata_matches_databento(path: Path) -> None:
    info = open_mbo(path)
    meta = databento.DBNStore.from_file(path).metadata
    assert info.version == meta.version
    assert info.dataset == meta.dataset
    assert info.schema == "mbo"
    assert info.start_ns == meta.start
    assert info.symbols == tuple(meta.symbols)
    assert info.stype_in == "raw_symbol" and info.stype_out == "instrument_id"


def test_versions_present() -> None:
    assert open_mbo(ESM4).version == 1
    assert open_mbo(ARL).version == 3
    assert open_mbo(V3_PLAIN).version == 3
    assert open_mbo(V3_PLAIN).record_count == 2  # plain files: known from the size
    assert open_mbo(ESM4).record_count is None


@pytest.mark.parametrize(
    ("path", "symbol", "instrument_id", "count"),
    [(ESM4, "ESM4", 5602, 13_796), (ARL, "ARL", 1108, 5_886), (V3_PLAIN, "ESH1", 5482, 2)],
)
def test_symbol_selection_through_mappings(
    path: Path, symbol: str, instrument_id: int, count: int
) -> None:
    info = open_mbo(path)
    np.testing.assert_array_equal(info.instrument_ids(symbol), [instrument_id])
    assert info.instrument_ids(symbol.lower()).tolist() == [instrument_id]
    assert info.instrument_ids(str(instrument_id)).tolist() == [instrument_id]
    records = read_mbo(path, symbol)
    assert len(records) == count
    assert set(records["instrument_id"].tolist()) == {instrument_id}


def test_unknown_symbol_lists_symbols_present() -> None:
    with pytest.raises(
        DbnInputError, match=r"esm4.*\.zst: symbol 'NQM4' not in file; symbols present: ESM4"
    ):
        read_mbo(ESM4, "NQM4")


def test_chunks_concatenate_to_whole_file() -> None:
    chunks = list(iter_mbo(ESM4, chunk_records=1000))
    assert [len(c) for c in chunks[:-1]] == [1000] * (len(chunks) - 1)
    assert_same_records(np.concatenate(chunks), databento_records(ESM4))


def test_reused_buffer_gives_the_same_records() -> None:
    chunks = [c.copy() for c in iter_mbo(ESM4, chunk_records=1000, reuse_buffer=True)]
    assert [len(c) for c in chunks[:-1]] == [1000] * (len(chunks) - 1)
    assert_same_records(np.concatenate(chunks), databento_records(ESM4))


def test_filtered_chunks_are_never_empty(tmp_path: Path) -> None:
    a = read_mbo(ESM4)[:500].copy()
    b = a.copy()
    b["instrument_id"] = 77
    both = np.concatenate([a, b])  # 500 of one contract then 500 of the other
    path = write_mbo_dbn(
        tmp_path / "two.dbn", both, dataset="GLBX.MDP3", symbol=["ESM4", "XXM4"],
        instrument_id=[5602, 77], start_ns=int(a["ts_event"][0]), end_ns=int(a["ts_event"][-1]) + 1,
    )  # fmt: skip
    chunks = list(iter_mbo(path, "XXM4", chunk_records=100))
    assert all(len(c) for c in chunks)
    assert sum(len(c) for c in chunks) == 500
    assert len(read_mbo(path)) == 1000


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("suffix", [".dbn", ".dbn.zst"])
def test_written_files_read_back_every_version(tmp_path: Path, version: int, suffix: str) -> None:
    records = read_mbo(ARL)
    path = write_mbo_dbn(
        tmp_path / f"arl-v{version}.mbo{suffix}", records, dataset="XNAS.ITCH", symbol="ARL",
        instrument_id=1108, start_ns=open_mbo(ARL).start_ns, end_ns=open_mbo(ARL).end_ns,
        version=version,
    )  # fmt: skip
    assert open_mbo(path).version == version
    assert_same_records(read_mbo(path, "ARL"), databento_records(path))
    assert_same_records(read_mbo(path), databento_records(ARL))


# ----------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DbnInputError, match="no such file") as exc:
        read_mbo(tmp_path / "nope.dbn.zst")
    assert "nope.dbn.zst" in str(exc.value)


def test_not_dbn(tmp_path: Path) -> None:
    path = tmp_path / "junk.dbn"
    path.write_bytes(b"hello world, not a dbn file")
    with pytest.raises(DbnInputError, match="not a DBN file"):
        open_mbo(path)


def test_truncated_plain_body(tmp_path: Path) -> None:
    path = tmp_path / "cut.dbn"
    raw = V3_PLAIN.read_bytes()
    path.write_bytes(raw[:-10])
    with pytest.raises(DbnInputError, match=r"cut\.dbn: truncated DBN body: 46 trailing bytes"):
        read_mbo(path)


def test_truncated_zstd_frame(tmp_path: Path) -> None:
    path = tmp_path / "cut.dbn.zst"
    raw = ESM4.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DbnInputError, match=r"cut\.dbn\.zst: truncated zstd frame"):
        read_mbo(path)


def test_truncated_metadata(tmp_path: Path) -> None:
    path = tmp_path / "head.dbn"
    path.write_bytes(V3_PLAIN.read_bytes()[:40])
    with pytest.raises(DbnInputError, match="truncated DBN metadata"):
        open_mbo(path)


def test_other_schema_is_refused(tmp_path: Path) -> None:
    # The definition file next to the ESM4 data is a genuine non-MBO DBN file.
    path = tmp_path / "def.dbn.zst"
    shutil.copy(DATA / "glbx-mdp3-esm4-20240508.definition.dbn.zst", path)
    with pytest.raises(DbnInputError, match="schema is definition, expected mbo"):
        read_mbo(path)
    # ... and one written from scratch with databento_dbn (trades schema).
    meta = databento_dbn.Metadata(
        dataset="GLBX.MDP3", start=0, stype_in=databento_dbn.SType.RAW_SYMBOL,
        stype_out=databento_dbn.SType.INSTRUMENT_ID, schema=databento_dbn.Schema.TRADES,
        symbols=["ESM4"], end=1, version=3,
    )  # fmt: skip
    trades = tmp_path / "trades.dbn"
    trades.write_bytes(meta.encode())
    with pytest.raises(DbnInputError, match="schema is trades, expected mbo"):
        open_mbo(trades)


def test_record_that_is_not_mbo(tmp_path: Path) -> None:
    records = read_mbo(ARL)[:100].copy()
    records["rtype"][42] = 0x00  # an MBP-0 (trades) record type in an MBO file
    path = write_mbo_dbn(
        tmp_path / "bad.dbn.zst", records, dataset="XNAS.ITCH", symbol="ARL",
        instrument_id=1108, start_ns=0, end_ns=1,
    )  # fmt: skip
    with pytest.raises(DbnInputError, match=r"bad\.dbn\.zst: record 42 is not MBO"):
        read_mbo(path)


def test_corrupt_zstd(tmp_path: Path) -> None:
    raw = bytearray(ESM4.read_bytes())
    raw[300:340] = b"\xff" * 40
    path = tmp_path / "corrupt.dbn.zst"
    path.write_bytes(bytes(raw))
    with pytest.raises(DbnInputError, match="corrupt"):
        read_mbo(path)


def test_multi_frame_zstd(tmp_path: Path) -> None:
    # Concatenated zstd frames are one stream (the ESM4 file itself has several frames).
    raw = zstandard.ZstdDecompressor().stream_reader(ESM4.open("rb"), read_across_frames=True)
    data = raw.read()
    cctx = zstandard.ZstdCompressor()
    half = len(data) // 2
    path = tmp_path / "frames.dbn.zst"
    path.write_bytes(cctx.compress(data[:half]) + cctx.compress(data[half:]))
    assert_same_records(read_mbo(path), databento_records(ESM4))


def test_mapping_intervals_span_the_session(tmp_path: Path) -> None:
    start = int(dt.datetime(2026, 2, 6, 14, tzinfo=dt.UTC).timestamp() * 1e9)
    path = write_mbo_dbn(
        tmp_path / "x.dbn", np.empty(0, MBO_DTYPE), dataset="GLBX.MDP3", symbol="MNQH6",
        instrument_id=42005347, start_ns=start, end_ns=start + 3600 * 10**9,
    )  # fmt: skip
    meta = databento.DBNStore.from_file(path).metadata
    (interval,) = meta.mappings["MNQH6"]
    assert interval["start_date"] == dt.date(2026, 2, 6)
    assert interval["end_date"] == dt.date(2026, 2, 7)
    assert open_mbo(path).instrument_ids("MNQH6").tolist() == [42005347]
    assert len(read_mbo(path)) == 0
