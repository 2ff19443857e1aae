"""Slot numbers of the engine's packed state and output arrays (shared by kernels and Python).

The engine keeps its whole state in a handful of numpy arrays so that it can be handed to a
numba kernel in one call and checkpointed without pickle. These integer constants name the
slots; numba reads them as compile-time constants. See ``docs/engine.md``.
"""

from __future__ import annotations

# --- int64 scalar state `sc` -------------------------------------------------------------
SC_CLOCK = 0  # engine event-time clock, ns (monotone: max of event times seen)
SC_STARTED = 1  # 1 once features run (first event at or after the feature start T0)
SC_OPEN_SEQ = 2  # bin_seq of the open bin (negative during warmup)
SC_IN_EVENT = 3  # 1 while inside an event (last record lacked F_LAST)
SC_EVENT_TIMED = 4  # 1 once the current event's time has been fixed
SC_EVENT_ID = 5  # running event counter (id of the current / last event)
SC_ANCHORED = 6  # 1 once the absolute tick array has an anchor
SC_ANCHOR = 7  # absolute bucket number of tick slot 0
SC_BEST_BID = 8  # slot of best bid upper bound (-1: none); resolved lazily
SC_BEST_ASK = 9  # slot of best ask lower bound (n_ticks: none); resolved lazily
SC_HAS_PREV_BID = 10  # previous closed bin had a bid
SC_PREV_BID = 11  # previous closed bin's best bid, absolute bucket
SC_HAS_PREV_ASK = 12
SC_PREV_ASK = 13
SC_HAS_SPOT = 14
SC_SPOT = 15  # last spot, absolute bucket
SC_BIN_EVENTS = 16  # events completed in the open bin
SC_HT_USED = 17  # live orders in the hash table
SC_HT_TOMB = 18  # tombstones in the hash table
SC_N_HIST = 19  # bins pushed into the spectrum history
SC_HIST_POS = 20  # next write row of the spectrum ring buffer
SC_OUT_BID = 21  # resting bid quantity outside the tick array
SC_OUT_ASK = 22
SC_OUT_CHANGES = 23  # counter of book changes outside the array (cache key)
SC_OUT_SCANNED = 24  # SC_OUT_CHANGES when the outside best prices were last scanned
SC_OB_HAS_BID = 25  # cached best bid among orders outside the array (absolute bucket)
SC_OB_BID = 26
SC_OB_HAS_ASK = 27
SC_OB_ASK = 28
SC_SEEN_VALID = 29  # 1 once a valid two-sided book has been seen at an event end
N_SC = 30

# --- int64 statistics `stats` (EngineStats fields, in this order) ------------------------
STAT_NAMES: tuple[str, ...] = (
    "records",  # records processed
    "events",  # F_LAST-terminated events
    "snapshots",  # records flagged F_SNAPSHOT
    "adds",
    "cancels",
    "modifies",
    "clears",
    "trades",
    "fills",
    "tob_updates",  # F_TOB adds (side replacements)
    "orphans",  # C/M/F for an unknown order id
    "duplicate_adds",  # A for an order id already live (applied as a modify)
    "crossed_events",  # events after which the consolidated best bid > best ask
    "bad_prices",  # zero/undefined prices on A/M/F
    "bad_sides",  # A/M with side not A/B
    "bad_publishers",  # publisher_id >= MAX_PUBLISHERS on an F_TOB record
    "out_of_range",  # book/flow changes at a price outside the absolute tick array
    "reanchors",
    "bins_closed",  # warmup + capture bins computed
    "bins_emitted",
    "fill_qty_matched",  # quantity of C/M removals attributed to a preceding F
)
ST = {name: i for i, name in enumerate(STAT_NAMES)}
ST_RECORDS = ST["records"]
ST_EVENTS = ST["events"]
ST_SNAPSHOTS = ST["snapshots"]
ST_ADDS = ST["adds"]
ST_CANCELS = ST["cancels"]
ST_MODIFIES = ST["modifies"]
ST_CLEARS = ST["clears"]
ST_TRADES = ST["trades"]
ST_FILLS = ST["fills"]
ST_TOB = ST["tob_updates"]
ST_ORPHANS = ST["orphans"]
ST_DUP_ADDS = ST["duplicate_adds"]
ST_CROSSED = ST["crossed_events"]
ST_BAD_PRICES = ST["bad_prices"]
ST_BAD_SIDES = ST["bad_sides"]
ST_BAD_PUB = ST["bad_publishers"]
ST_OUT_OF_RANGE = ST["out_of_range"]
ST_REANCHORS = ST["reanchors"]
ST_BINS_CLOSED = ST["bins_closed"]
ST_BINS_EMITTED = ST["bins_emitted"]
ST_FILL_MATCHED = ST["fill_qty_matched"]
N_STATS = len(STAT_NAMES)

# --- int64 config `ip` ----------------------------------------------------------------
IP_N_TICKS = 0
IP_RADIUS = 1
IP_BUCKET = 2  # bucket size, 1e-9 price units
IP_CELL_NS = 3
IP_CAPTURE_START = 4
IP_FIRST_SEQ = 5  # bin_seq of the first computed (warmup) bin, <= 0
IP_N_BINS = 6  # bins in the capture window: bin_seq in [0, N_BINS)
IP_MARGIN = 7  # re-anchor when spot is within this many slots of an edge
N_IP = 8

# --- float64 coefficients `coef` ----------------------------------------------------------
CF_C1, CF_C2, CF_C3, CF_C4, CF_C5, CF_C6, CF_C7 = range(7)
CF_EPS = 7  # composite denominator epsilon
CF_BAND = 8  # state5 neutral band
N_CF = 9

# --- feature groups in the per-tick modal state y[tick, group, mode] ---------------------
G_ADD, G_PULL, G_FILL, G_BID, G_ASK = range(5)
N_GROUPS = 5
N_MODES = 4  # (q, v, a, j)

# --- hash table value columns ht_val[slot, col] ----------------------------------------
HV_PRICE, HV_SIZE, HV_SIDE, HV_INSTRUMENT, HV_PENDING_FILL = range(5)
N_HV = 5
HT_EMPTY = -1
HT_TOMB = -2
MAX_PUBLISHERS = 1024  # F_TOB venue side levels are kept per publisher id below this

# --- output columns -------------------------------------------------------------------
F8_COLUMNS: tuple[str, ...] = (
    "pressure_variant",
    "vacuum_variant",
    "add_mass",
    "pull_mass",
    "fill_mass",
    "rest_depth",
    "bid_depth",
    "ask_depth",
    "v_add",
    "v_pull",
    "v_fill",
    "v_rest_depth",
    "v_bid_depth",
    "v_ask_depth",
    "a_add",
    "a_pull",
    "a_fill",
    "a_rest_depth",
    "a_bid_depth",
    "a_ask_depth",
    "j_add",
    "j_pull",
    "j_fill",
    "j_rest_depth",
    "j_bid_depth",
    "j_ask_depth",
    "composite",
    "composite_d1",
    "composite_d2",
    "composite_d3",
)
I4_COLUMNS: tuple[str, ...] = ("k", "best_ask_move_ticks", "best_bid_move_ticks")
I1_COLUMNS: tuple[str, ...] = (
    "ask_reprice_sign",
    "bid_reprice_sign",
    "microstate_id",
    "state5_code",
    "chase_up_flag",
    "chase_down_flag",
)
I8_COLUMNS: tuple[str, ...] = ("last_event_id",)
BIN_I8_COLUMNS: tuple[str, ...] = (
    "ts_ns",
    "bin_seq",
    "bin_start_ns",
    "bin_end_ns",
    "bin_event_count",
    "event_id",
    "spot_ref_price_int",
    "best_bid_price_int",
    "best_ask_price_int",
)
BIN_F8_COLUMNS: tuple[str, ...] = ("mid_price",)
BIN_BOOL_COLUMNS: tuple[str, ...] = ("book_valid",)

_F8 = {n: i for i, n in enumerate(F8_COLUMNS)}
O_PRESSURE = _F8["pressure_variant"]
O_VACUUM = _F8["vacuum_variant"]
O_ADD_MASS = _F8["add_mass"]
O_REST = _F8["rest_depth"]
O_V0 = _F8["v_add"]  # v_add, v_pull, v_fill, v_rest, v_bid, v_ask follow in this order
O_A0 = _F8["a_add"]
O_J0 = _F8["j_add"]
O_COMPOSITE = _F8["composite"]
O_D1 = _F8["composite_d1"]
