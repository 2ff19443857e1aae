"""replay -> engine on a real NATS: the grids equal the engine core run over the same file."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from spymaster_engine.core import run_engine
from spymaster_engine.service import serve as serve_engine
from spymaster_replay.batches import capture_records, check_capture
from spymaster_replay.service import serve as serve_replay
from spymaster_shared.bus.framing import decode_json, encode_json
from spymaster_shared.bus.messages import GridBin, SessionReply, StartSessionRequest, StreamEnd
from spymaster_shared.bus.runtime import start_context
from spymaster_shared.bus.subjects import CTL_REPLAY_START, subject
from spymaster_shared.config import load_pipeline, resolve_engine_config
from tests.bus.grids import grid_arrays, read_subject

pytestmark = pytest.mark.integration


async def test_engine_grids_equal_the_core(short_env) -> None:  # type: ignore[no-untyped-def]
    spec = load_pipeline(short_env.pipeline).with_capture(start_time="09:24:30")
    cfg = resolve_engine_config(spec)
    expected = run_engine(cfg, capture_records(check_capture(spec.capture), cfg))
    ctxs = [await start_context("replay-t"), await start_context("engine-t")]
    tasks = [asyncio.create_task(serve_replay(ctxs[0])), asyncio.create_task(serve_engine(ctxs[1]))]
    try:
        for c in ctxs:
            await asyncio.wait_for(c.ready.wait(), 20)
        req = StartSessionRequest(pipeline=spec.model_dump(mode="json"), speed=0.0)
        reply = decode_json(
            (await ctxs[0].nc.request(CTL_REPLAY_START, encode_json(req), timeout=20)).data,
            SessionReply,
        )
        assert reply.ok, reply.error
        msgs = await read_subject(ctxs[0].js, subject("grid", reply.session_id), idle=60)
        assert isinstance(msgs[-1][0], StreamEnd) and msgs[-1][0].reason == "complete"
        heads = [h for h, _ in msgs if isinstance(h, GridBin)]
        assert [h.bin_seq for h in heads] == list(range(cfg.n_bins))
        bins, cells = grid_arrays(msgs)
        for name, arr in expected.bins.items():
            assert np.array_equal(bins[name], arr), name
        for name, arr in expected.cells.items():
            assert np.array_equal(cells[name], arr, equal_nan=True), name
    finally:
        for c in ctxs:
            c.stopping.set()
        await asyncio.gather(*tasks)
