"""Arrow frames: the one-pass encoder gives each bin's frame_batch; scores fill in place."""

from __future__ import annotations

import numpy as np
import pytest

from spymaster_shared.bus.arrow_frames import (
    _frame_layout,
    _slice_encode,
    cells_of,
    decode_ipc,
    encode_frames_ipc,
    encode_ipc,
    with_scores,
)
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.grid_schema import BIN_FIELDS, CELL_FIELDS


def _frames(n: int = 4, rows: int = 7) -> GridFrames:
    rng = np.random.default_rng(0)
    return GridFrames(
        bins={name: np.arange(n).astype(t) for name, t in BIN_FIELDS},
        cells={name: (rng.random((n, rows)) * 100).astype(t) for name, t in CELL_FIELDS},
    )


def test_one_pass_encoder_equals_frame_batch() -> None:
    frames = _frames()
    for i, body in enumerate(encode_frames_ipc(frames)):
        got = cells_of(decode_ipc(body))
        want = cells_of(decode_ipc(encode_ipc(frames.frame_batch(i))))
        for name in want:
            assert got[name].tobytes() == want[name].tobytes(), name


@pytest.mark.parametrize("rows", [1, 7, 101])
def test_layout_writes_pyarrows_bytes(rows: int) -> None:
    """The column-by-column encoder writes what pyarrow writes for the last bin of a batch
    (a slice at offset 0 has unpadded metadata lengths, one followed by other bins has their
    first bytes as padding: both read the same); any bin, also a lone one, reads back as its
    frame_batch."""
    frames = _frames(n=5, rows=rows)
    assert _frame_layout(rows) is not None  # not the pyarrow fallback
    ours = encode_frames_ipc(frames)
    for i in range(1, 5):
        assert bytes(ours[i]) == _slice_encode(frames.slice(0, i + 1))[i]
    for i in range(5):
        (lone,) = encode_frames_ipc(frames.slice(i, i + 1))
        assert bytes(lone) == bytes(ours[i])
        got, want = cells_of(decode_ipc(lone)), cells_of(frames.frame_batch(i))
        for name in want:
            assert got[name].tobytes() == want[name].tobytes(), name


def test_with_scores_replaces_the_score_columns() -> None:
    frames = _frames()
    batch = frames.frame_batch(1)
    flow = np.linspace(-1, 1, 7)
    state = np.array([1, 0, -1, 0, 1, 1, 0], dtype="i1")
    out = cells_of(with_scores(batch, flow, state, 0.25))
    assert np.array_equal(out["flow_score"], flow)
    assert np.array_equal(out["flow_state_code"], state)
    assert np.all(out["signal_score"] == 0.25)
    assert np.array_equal(out["add_mass"], frames.cells["add_mass"][1])
