"""FeatureEngine against the reference book, hand-built scenarios, determinism, checkpoints."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from spymaster_engine.core import EngineStateError, FeatureEngine, run_engine
from spymaster_shared.config.runtime import EngineConfig
from spymaster_shared.dbn.records import F_LAST, F_SNAPSHOT, F_TOB
from spymaster_shared.errors import ConfigError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.grid_schema import BIN_FIELDS, CELL_FIELDS
from tests.engine.market import (
    MS,
    SEC,
    SHARED_DATA,
    T_BASE,
    dbn_window,
    make_cfg,
    random_stream,
    read_dbn,
    rec,
    records,
)
from tests.engine.reference_book import RefBin, RefEngine

# ----------------------------------------------------------------------------- helpers


def frames_bytes(fr: GridFrames) -> bytes:
    parts = [fr.bins[n].tobytes() for n, _ in BIN_FIELDS]
    parts += [fr.cells[n].tobytes() for n, _ in CELL_FIELDS]
    return b"".join(parts)


def assert_frames_identical(a: GridFrames, b: GridFrames) -> None:
    assert a.n_bins == b.n_bins
    for n, _ in BIN_FIELDS:
        np.testing.assert_array_equal(a.bins[n], b.bins[n], err_msg=n)
    for n, _ in CELL_FIELDS:
        assert a.cells[n].tobytes() == b.cells[n].tobytes(), n


def assert_matches_reference(
    fr: GridFrames, ref: list[RefBin], cfg: EngineConfig, masses: bool = True
) -> None:
    """Per bin: best prices, spot, validity, event count; per row: bid/ask depth, masses."""
    assert fr.n_bins == len(ref) == cfg.n_bins
    b = cfg.bucket_price_int
    radius = cfg.grid_radius_ticks
    for i, rb in enumerate(ref):
        assert fr.bins["bin_seq"][i] == rb.seq
        assert fr.bins["bin_end_ns"][i] == rb.end
        assert fr.bins["best_bid_price_int"][i] == (0 if rb.best_bid is None else rb.best_bid * b)
        assert fr.bins["best_ask_price_int"][i] == (0 if rb.best_ask is None else rb.best_ask * b)
        assert fr.bins["book_valid"][i] == rb.valid
        assert fr.bins["spot_ref_price_int"][i] == (0 if rb.spot is None else rb.spot * b)
        assert fr.bins["bin_event_count"][i] == rb.events, i
        if rb.spot is None:
            continue
        buckets = rb.spot + np.arange(-radius, radius + 1)
        for col, side in (("bid_depth", "B"), ("ask_depth", "A")):
            want = [rb.depth.get((int(k), side), 0) for k in buckets]
            np.testing.assert_array_equal(fr.cells[col][i], want, err_msg=f"{col} bin {i}")
        if masses:
            for col, kind in (("add_mass", "add"), ("pull_mass", "pull"), ("fill_mass", "fill")):
                want = [rb.masses.get((int(k), kind), 0.0) for k in buckets]
                np.testing.assert_allclose(
                    fr.cells[col][i], want, rtol=1e-9, atol=1e-9, err_msg=f"{col} bin {i}"
                )


def check_invariants(fr: GridFrames) -> None:
    for col in ("bid_depth", "ask_depth", "rest_depth", "add_mass", "pull_mass", "fill_mass"):
        assert (fr.cells[col] >= -1e-9).all(), col
    np.testing.assert_array_equal(
        fr.cells["rest_depth"], fr.cells["bid_depth"] + fr.cells["ask_depth"]
    )
    valid = fr.bins["book_valid"]
    assert (fr.bins["best_bid_price_int"][valid] <= fr.bins["best_ask_price_int"][valid]).all()
    assert (fr.bins["mid_price"][~valid] == 0.0).all()
    comp = fr.cells["composite"]
    assert np.isfinite(comp).all() and (np.abs(comp) <= 1.0).all()
    assert set(np.unique(fr.cells["state5_code"])) <= {-2, -1, 0, 1, 2}
    np.testing.assert_array_equal(fr.cells["k"][0], np.arange(fr.n_rows) - fr.n_rows // 2)


def split_points(rng: np.random.Generator, n: int, k: int) -> list[int]:
    return sorted({0, n, *(int(x) for x in rng.integers(1, n, size=k))})


# ----------------------------------------------------------------------------- real files

REAL_FILES = [
    # file, product_type, symbol, bucket, cell_ms
    ("glbx-mdp3-esm4-20240508-0000-2s.mbo.dbn.zst", "future_mbo", "ESM4", 0.25, 100),
    ("glbx-mdp3-esm4-20240508-0000-2s.mbo.dbn.zst", "future_mbo", "ESM4", 0.25, 7),
    ("xnas-itch-arl-20250717.mbo.dbn.zst", "equity_mbo", "ARL", 0.01, 30_000),
    ("tiny-GLBX.MDP3.test_data.mbo.dbn.zst", "future_mbo", "ESH1", 0.25, 100),
    ("tiny-XNAS.ITCH.test_data.mbo.dbn.zst", "equity_mbo", "NVDA", 0.01, 1000),
    ("tiny-IFEU.IMPACT.test_data.mbo.dbn.zst", "future_mbo", "ESH1", 0.01, 100),
    ("tiny-NDEX.IMPACT.test_data.mbo.dbn.zst", "future_mbo", "ESH1", 0.01, 100),
    ("tiny-test_data.mbo.v3.dbn", "future_mbo", "ESH1", 0.25, 100),
]


def real_cfg(name: str, product_type: str, symbol: str, bucket: float, cell_ms: int):
    recs = read_dbn(SHARED_DATA / name)
    start, end = dbn_window(SHARED_DATA / name)
    if name.startswith("tiny"):  # their metadata windows are whole days
        ts = recs["ts_event"].astype(np.int64)
        start, end = int(ts.min()), int(ts.max()) + SEC
    cw = cell_ms * MS
    cap_start = start // cw * cw
    cfg = make_cfg(
        cap_start, end + cw, warmup_ns=2 * cw, product_type=product_type, symbol=symbol,
        bucket_dollars=bucket, cell_width_ms=cell_ms, grid_radius_ticks=20,
    )  # fmt: skip
    return cfg, recs


@pytest.mark.parametrize("case", REAL_FILES, ids=lambda c: f"{c[0][:24]}-{c[4]}ms")
def test_real_file_matches_reference_book(case):
    cfg, recs = real_cfg(*case)
    rng = np.random.default_rng(0)
    cuts = split_points(rng, len(recs), 5)
    fr = run_engine(cfg, [recs[a:b] for a, b in itertools.pairwise(cuts)])
    ref = RefEngine(cfg)
    assert_matches_reference(fr, ref.run(recs), cfg)
    check_invariants(fr)
    eng = FeatureEngine(cfg)
    eng.process(recs)
    eng.finish()
    assert eng.stats.records == len(recs)
    assert eng.stats.orphans == ref.orphans
    assert eng.stats.reanchors == 0


def test_esm4_fills_are_matched_to_their_cancels():
    cfg, recs = real_cfg(*REAL_FILES[0])
    eng = FeatureEngine(cfg)
    fr = GridFrames.concat([eng.process(recs), eng.finish()], cfg.n_grid_rows)
    st = eng.stats
    fills = recs[recs["action"] == ord("F")]
    assert st.fills == len(fills) and st.fill_qty_matched == int(fills["size"].sum())
    assert st.snapshots == int(((recs["flags"] & F_SNAPSHOT) != 0).sum())
    assert fr.cells["fill_mass"].sum() > 0
    assert fr.bins["book_valid"].all()


# ----------------------------------------------------------------------------- random streams


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_stream_matches_reference(seed):
    cfg = make_cfg(warmup_ns=2 * SEC, grid_radius_ticks=15, bucket_dollars=0.25)
    recs = random_stream(seed, 4000, mean_gap_ns=2 * MS, snapshot_every=700)
    fr = run_engine(cfg, [recs])
    ref = RefEngine(cfg)
    assert_matches_reference(fr, ref.run(recs), cfg)
    check_invariants(fr)
    eng = FeatureEngine(cfg)
    eng.process(recs)
    assert eng.stats.orphans == ref.orphans > 0
    assert eng.stats.tob_updates > 0 and eng.stats.snapshots > 0


def test_coarse_bucket_matches_reference():
    cfg = make_cfg(warmup_ns=SEC, grid_radius_ticks=10, bucket_dollars=1.0)
    recs = random_stream(11, 3000, mean_gap_ns=2 * MS)
    fr = run_engine(cfg, [recs])
    assert_matches_reference(fr, RefEngine(cfg).run(recs), cfg)


def test_reanchor_keeps_book_exact():
    cfg = make_cfg(warmup_ns=SEC, grid_radius_ticks=8, n_absolute_ticks=256, bucket_dollars=0.25)
    recs = random_stream(5, 6000, mean_gap_ns=1 * MS, drift_ticks=0.15, tob_publisher=None)
    eng = FeatureEngine(cfg)
    fr = GridFrames.concat([eng.process(recs), eng.finish()], cfg.n_grid_rows)
    assert eng.stats.reanchors >= 2
    ref = RefEngine(cfg)
    # masses of ticks that were outside the array when their flow happened are lost by design
    assert_matches_reference(fr, ref.run(recs), cfg, masses=False)
    assert eng.stats.orphans == ref.orphans
    check_invariants(fr)


# ----------------------------------------------------------------------------- scenarios

T1 = T_BASE + 1 * SEC + 30 * MS  # inside bin 10
T2 = T_BASE + 2 * SEC + 30 * MS  # inside bin 20
END = T_BASE + 3 * SEC


def run_rows(rows, cfg=None):
    cfg = cfg or make_cfg(capture_end_ns=END, grid_radius_ticks=5, bucket_dollars=0.25)
    eng = FeatureEngine(cfg)
    fr = GridFrames.concat([eng.process(records(rows)), eng.finish()], cfg.n_grid_rows)
    return eng, fr, cfg


def cell(fr: GridFrames, cfg, i: int, col: str, price: float) -> float:
    spot = fr.bins["spot_ref_price_int"][i]
    k = round((price * 1e9 - spot) / cfg.bucket_price_int)
    return float(fr.cells[col][i, k + cfg.grid_radius_ticks])


BOOK = [
    rec(T1, "A", "B", 99.75, 10, 1),
    rec(T1, "A", "A", 100.25, 5, 2),
    rec(T1, "A", "A", 100.50, 7, 3),
]


def test_fill_then_cancel_counts_fill_not_pull():
    rows = [
        *BOOK,
        rec(T2, "T", "B", 100.25, 5, 0, flags=0),
        rec(T2, "F", "A", 100.25, 5, 2, flags=0),
        rec(T2, "C", "A", 100.25, 5, 2),
    ]
    eng, fr, cfg = run_rows(rows)
    i = 20  # bin [2.0 s, 2.1 s): the fill happened in it
    decay = math.exp(-(fr.bins["bin_end_ns"][i] - T2) * 1e-9 / cfg.tau_rest_decay)
    assert cell(fr, cfg, i, "fill_mass", 100.25) == pytest.approx(5 * decay, rel=1e-12)
    assert cell(fr, cfg, i, "pull_mass", 100.25) == 0.0
    assert cell(fr, cfg, i, "ask_depth", 100.25) == 0.0
    assert cell(fr, cfg, i, "v_fill", 100.25) > 0
    assert eng.stats.fill_qty_matched == 5 and eng.stats.orphans == 0
    # a plain cancel of the same size is a pull
    rows[-3:] = [rec(T2, "C", "A", 100.25, 5, 2)]
    _, fr2, _ = run_rows(rows)
    assert cell(fr2, cfg, i, "pull_mass", 100.25) == pytest.approx(5 * decay, rel=1e-12)
    assert cell(fr2, cfg, i, "fill_mass", 100.25) == 0.0


def test_partial_fill_modify_and_interleaved_cancel():
    rows = [
        *BOOK,
        rec(T2, "T", "B", 100.25, 2, 0, flags=0),
        rec(T2, "F", "A", 100.25, 2, 2, flags=0),
        rec(T2, "C", "A", 100.50, 7, 3, flags=0),  # another order's cancel in between
        rec(T2, "M", "A", 100.25, 3, 2),  # the partial fill's remaining size
    ]
    eng, fr, cfg = run_rows(rows)
    i = 20
    decay = math.exp(-(fr.bins["bin_end_ns"][i] - T2) * 1e-9 / cfg.tau_rest_decay)
    assert cell(fr, cfg, i, "fill_mass", 100.25) == pytest.approx(2 * decay)
    assert cell(fr, cfg, i, "pull_mass", 100.25) == 0.0
    assert cell(fr, cfg, i, "pull_mass", 100.50) == pytest.approx(7 * decay)
    assert cell(fr, cfg, i, "ask_depth", 100.25) == 3.0
    assert eng.stats.fill_qty_matched == 2


def test_trade_alone_changes_nothing():
    _, base, _cfg = run_rows(BOOK)
    _, fr, _ = run_rows([*BOOK, rec(T2, "T", "B", 100.25, 5, 0)])
    for col in ("fill_mass", "pull_mass", "ask_depth", "add_mass"):
        np.testing.assert_array_equal(fr.cells[col], base.cells[col])


def test_size_increase_is_add_and_reprice_is_pull_plus_add():
    rows = [*BOOK, rec(T2, "M", "B", 99.75, 14, 1), rec(T2, "M", "A", 100.75, 5, 2)]
    _, fr, cfg = run_rows(rows)
    i = 20
    decay = math.exp(-(fr.bins["bin_end_ns"][i] - T2) * 1e-9 / cfg.tau_rest_decay)
    decay1 = math.exp(-(fr.bins["bin_end_ns"][i] - T1) * 1e-9 / cfg.tau_rest_decay)
    assert cell(fr, cfg, i, "add_mass", 99.75) == pytest.approx(10 * decay1 + 4 * decay)
    assert cell(fr, cfg, i, "bid_depth", 99.75) == 14
    assert cell(fr, cfg, i, "pull_mass", 100.25) == pytest.approx(5 * decay)
    assert cell(fr, cfg, i, "add_mass", 100.75) == pytest.approx(5 * decay)
    assert cell(fr, cfg, i, "ask_depth", 100.75) == 5


def test_tob_adds_replace_the_venue_side():
    rows = [
        *BOOK,
        rec(T1, "A", "B", 100.00, 8, 0, flags=F_TOB | F_LAST, pub=9),
        rec(T2, "A", "B", 99.75, 3, 0, flags=F_TOB | F_LAST, pub=9),
    ]
    _, fr, cfg = run_rows(rows)
    assert cell(fr, cfg, 15, "bid_depth", 100.00) == 8  # before the replacement
    assert fr.bins["best_bid_price_int"][15] == 100_000_000_000
    assert cell(fr, cfg, 20, "bid_depth", 100.00) == 0
    assert cell(fr, cfg, 20, "bid_depth", 99.75) == 13  # consolidated with publisher 1
    rows.append(rec(T2 + 500 * MS, "A", "B", None, 0, 0, flags=F_TOB | F_LAST, pub=9))
    _, fr, cfg = run_rows(rows)
    assert cell(fr, cfg, 26, "bid_depth", 99.75) == 10


def test_publishers_have_separate_books_and_consolidate():
    rows = [
        *BOOK,
        rec(T1, "A", "B", 100.00, 4, 1, pub=2),  # same order id, other venue
        rec(T2, "C", "B", 99.75, 10, 1, pub=1),
    ]
    eng, fr, cfg = run_rows(rows)
    assert fr.bins["best_bid_price_int"][15] == 100_000_000_000
    assert cell(fr, cfg, 15, "bid_depth", 99.75) == 10
    assert cell(fr, cfg, 20, "bid_depth", 99.75) == 0
    assert cell(fr, cfg, 20, "bid_depth", 100.00) == 4
    rows.append(rec(T2, "R", pub=2))
    eng, fr, cfg = run_rows(rows)
    assert fr.bins["best_bid_price_int"][20] == 0 and not fr.bins["book_valid"][20]
    assert fr.bins["spot_ref_price_int"][20] == fr.bins["spot_ref_price_int"][19]
    assert eng.stats.orphans == 0


def test_snapshot_rebuilds_book_without_flow_or_time():
    old = T_BASE - 3600 * SEC
    rows = [
        *BOOK,
        rec(old, "R", flags=F_SNAPSHOT),
        rec(old, "A", "B", 99.50, 6, 11, flags=F_SNAPSHOT),
        rec(old, "A", "A", 100.50, 9, 12, flags=F_SNAPSHOT | F_LAST),
    ]
    eng, fr, cfg = run_rows(rows)
    assert eng.last_ts_event == T1
    i = 20
    assert cell(fr, cfg, i, "bid_depth", 99.50) == 6
    assert cell(fr, cfg, i, "bid_depth", 99.75) == 0
    assert cell(fr, cfg, i, "add_mass", 99.50) == 0.0
    assert cell(fr, cfg, i, "v_bid_depth", 99.50) == 0.0
    assert cell(fr, cfg, i, "pull_mass", 99.75) == 0.0
    assert eng.stats.snapshots == 3


def test_bad_input_is_counted_never_raised():
    rows = [
        *BOOK,
        rec(T1, "C", "B", 99.75, 1, 424242),  # orphan cancel
        rec(T1, "F", "B", 99.75, 1, 434343),  # orphan fill
        rec(T1, "A", "B", None, 5, 50),  # undefined price
        rec(T1, "A", "B", 0.0, 5, 51),  # zero price
        rec(T1, "A", "N", 99.0, 5, 52),  # no side
        rec(T2, "A", "B", 100.75, 5, 53),  # crosses the 100.25 ask
        rec(T2, "A", "B", 5000.0, 1, 54),  # far outside the tick array
        rec(T2, "C", "B", 5000.0, 1, 54),  # ...and still cancellable
    ]
    eng, fr, _ = run_rows(rows)
    st = eng.stats
    assert st.orphans == 2 and st.bad_prices == 2 and st.bad_sides == 1
    assert st.crossed_events >= 1 and st.out_of_range >= 2
    assert not fr.bins["book_valid"][20]
    assert fr.bins["book_valid"][15]


def test_bins_cover_the_capture_window():
    cfg = make_cfg(capture_end_ns=T_BASE + 2 * SEC + 50 * MS, grid_radius_ticks=3)
    eng = FeatureEngine(cfg)
    first = eng.process(records(BOOK))
    assert first.n_bins == 10  # bins 0..9 end at or before T1
    rest = eng.finish()
    assert eng.next_bin_seq == cfg.n_bins == 21
    fr = GridFrames.concat([first, rest], cfg.n_grid_rows)
    np.testing.assert_array_equal(fr.bins["bin_seq"], np.arange(21))
    np.testing.assert_array_equal(fr.bins["ts_ns"], fr.bins["bin_end_ns"])
    np.testing.assert_array_equal(
        fr.bins["bin_start_ns"], T_BASE + np.arange(21) * cfg.cell_width_ns
    )
    assert fr.bins["bin_event_count"].sum() == 3 and fr.bins["bin_event_count"][10] == 3
    assert eng.finish().n_bins == 0
    with pytest.raises(EngineStateError):
        eng.process(records(BOOK))


def test_no_records_still_emits_every_bin():
    cfg = make_cfg(capture_end_ns=T_BASE + SEC, grid_radius_ticks=3)
    fr = run_engine(cfg, [])
    assert fr.n_bins == 10 and not fr.bins["book_valid"].any()
    assert (fr.cells["composite"] == 0).all()


def test_equal_time_constants_are_refused():
    with pytest.raises(ConfigError, match="tau_acceleration"):
        FeatureEngine(make_cfg(tau_velocity=5.0, tau_acceleration=5.0))


def test_labels_follow_best_price_moves():
    rows = [*BOOK, rec(T2, "A", "B", 100.0, 1, 60), rec(T2, "C", "A", 100.25, 5, 2)]
    _, fr, _ = run_rows(rows)
    i = 20
    assert fr.cells["best_bid_move_ticks"][i, 0] == 1
    assert fr.cells["best_ask_move_ticks"][i, 0] == 1
    assert fr.cells["chase_up_flag"][i].all() and not fr.cells["chase_down_flag"][i].any()
    assert fr.cells["microstate_id"][i, 0] == 8
    assert (fr.cells["best_ask_move_ticks"][i + 1] == 0).all()
    assert fr.cells["microstate_id"][i + 1, 0] == 4
    assert fr.cells["last_event_id"][i].max() == fr.bins["event_id"][i]


# ----------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def session():
    cfg = make_cfg(warmup_ns=2 * SEC, grid_radius_ticks=12, bucket_dollars=0.25)
    recs = random_stream(21, 5000, mean_gap_ns=1 * MS, snapshot_every=900)
    return cfg, recs, run_engine(cfg, [recs])


def test_same_input_gives_identical_bytes(session):
    cfg, recs, full = session
    assert frames_bytes(run_engine(cfg, [recs])) == frames_bytes(full)


def test_chunking_does_not_change_output(session):
    cfg, recs, full = session
    rng = np.random.default_rng(3)
    cuts = split_points(rng, len(recs), 40)
    chunks = [recs[a:b] for a, b in itertools.pairwise(cuts)]
    assert_frames_identical(run_engine(cfg, chunks), full)
    one_by_one = [recs[i : i + 1] for i in range(len(recs))]
    assert_frames_identical(run_engine(cfg, [*one_by_one[:1500], recs[1500:]]), full)


def _split_event_cut(recs: np.ndarray, after_ts: int) -> int:
    """A cut inside a multi-record event (between an F and its C/M) after ``after_ts``."""
    fills = np.nonzero((recs["action"] == ord("F")) & (recs["ts_event"] > after_ts))[0]
    i = int(fills[0])
    assert not recs["flags"][i] & F_LAST
    return i + 1


@pytest.mark.parametrize("where", ["warmup_start", "mid_session_split_event", "before_any"])
def test_checkpoint_restore_equals_cold_replay(session, where):
    cfg, recs, full = session
    if where == "warmup_start":
        cut = int(np.searchsorted(recs["ts_event"], cfg.warmup_start_ns))
    elif where == "before_any":
        cut = 0
    else:
        cut = _split_event_cut(recs, T_BASE + 1 * SEC)
    eng = FeatureEngine(cfg)
    head = eng.process(recs[:cut])
    blob = eng.checkpoint()
    eng2 = FeatureEngine.restore(cfg, blob)
    assert eng2.stats == eng.stats
    assert eng2.next_bin_seq == eng.next_bin_seq and eng2.last_ts_event == eng.last_ts_event
    assert eng2.checkpoint() == blob
    tail = [eng2.process(recs[cut:]), eng2.finish()]
    assert_frames_identical(GridFrames.concat([head, *tail], cfg.n_grid_rows), full)
