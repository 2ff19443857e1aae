"""The DBN MBO record (56 bytes, identical in DBN v1-v3) as a numpy dtype, and its constants.

A decoded buffer of MBO records is viewed in place as ``MBO_DTYPE``: no Python object
per record. ``action`` and ``side`` are ASCII bytes (``ord('A') == 65``) so numba kernels
can compare them as integers.
"""

from __future__ import annotations

import numpy as np

MBO_DTYPE = np.dtype(
    [
        ("length", "u1"),  # record length in 4-byte words (14 for MBO)
        ("rtype", "u1"),  # 0xA0 for MBO
        ("publisher_id", "<u2"),
        ("instrument_id", "<u4"),
        ("ts_event", "<u8"),
        ("order_id", "<u8"),
        ("price", "<i8"),  # 1e-9 units; UNDEF_PRICE when undefined
        ("size", "<u4"),
        ("flags", "u1"),
        ("channel_id", "u1"),
        ("action", "u1"),
        ("side", "u1"),
        ("ts_recv", "<u8"),
        ("ts_in_delta", "<i4"),
        ("sequence", "<u4"),
    ]
)
assert MBO_DTYPE.itemsize == 56

MBO_RTYPE = 0xA0
MBO_LENGTH_WORDS = MBO_DTYPE.itemsize // 4

PRICE_SCALE = 1e-9
PRICE_UNITS_PER_DOLLAR = 1_000_000_000
UNDEF_PRICE = np.iinfo(np.int64).max

# flags
F_LAST = 128
F_TOB = 64
F_SNAPSHOT = 32
F_MBP = 16
F_BAD_TS_RECV = 8
F_MAYBE_BAD_BOOK = 4

# actions (ASCII)
ACTION_ADD = ord("A")
ACTION_CANCEL = ord("C")
ACTION_MODIFY = ord("M")
ACTION_CLEAR = ord("R")
ACTION_TRADE = ord("T")
ACTION_FILL = ord("F")
ACTION_NONE = ord("N")

# sides (ASCII)
SIDE_ASK = ord("A")
SIDE_BID = ord("B")
SIDE_NONE = ord("N")
