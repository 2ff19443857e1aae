"""Read a session's grids and scores back from JetStream (test helper)."""

from __future__ import annotations

from typing import Any

import numpy as np

from spymaster_shared.bus.arrow_frames import cells_of, decode_ipc
from spymaster_shared.bus.framing import decode_frame
from spymaster_shared.bus.messages import GridBin, ScoreBin, StreamEnd


async def read_subject(js: Any, subj: str, idle: float = 3.0) -> list[tuple[Any, bytes]]:
    """Every message on ``subj`` from the start until its StreamEnd (or ``idle`` s of quiet)."""
    out: list[tuple[Any, bytes]] = []
    sub = await js.subscribe(subj, ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=idle)
            except TimeoutError:
                break
            head, body = decode_frame(msg.data)
            out.append((head, bytes(body)))
            if isinstance(head, StreamEnd):
                break
    finally:
        await sub.unsubscribe()
    return out


def grid_arrays(msgs: list[tuple[Any, bytes]]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """bins (name -> array) and cells (name -> 2-D array) of the GridBin messages."""
    heads = [h for h, _ in msgs if isinstance(h, GridBin)]
    frames = [cells_of(decode_ipc(b)) for h, b in msgs if isinstance(h, GridBin)]
    bins = {n: np.array([getattr(h.bin, n) for h in heads]) for n in heads[0].bin.__struct_fields__}
    cells = {n: np.stack([f[n] for f in frames]) for n in frames[0]}
    return bins, cells


def score_arrays(msgs: list[tuple[Any, bytes]]) -> dict[str, np.ndarray]:
    heads = [h for h, _ in msgs if isinstance(h, ScoreBin)]
    bodies = [b for h, b in msgs if isinstance(h, ScoreBin)]
    n = heads[0].n_cells
    return {
        "bin_seq": np.array([h.bin_seq for h in heads]),
        "flow_score": np.stack([np.frombuffer(b[: 8 * n], dtype="<f8") for b in bodies]),
        "flow_state_code": np.stack([np.frombuffer(b[8 * n :], dtype="i1") for b in bodies]),
        "signal_score": np.array(
            [np.nan if h.signal_score is None else h.signal_score for h in heads]
        ),
    }
