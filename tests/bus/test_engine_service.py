"""replay -> engine on a real NATS: the grids equal the engine core run over the same file."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from spymaster_engine.core import run_engine
from spymaster_engine.service import serve as serve_engine
from spymaster_replay.batches import capture_records, check_capture
from spymaster_replay.service import serve as serve_replay
from spymaster_scorer.service import serve as serve_scorer
from spymaster_shared.bus.framing import decode_json, encode_json
from spymaster_shared.bus.messages import (
    GridBin,
    ScorerReply,
    ScorerStartRequest,
    SessionReply,
    StartSessionRequest,
    StreamEnd,
)
from spymaster_shared.bus.runtime import start_context
from spymaster_shared.bus.subjects import CTL_REPLAY_START, CTL_SCORER_START, subject
from spymaster_shared.config import load_pipeline, resolve_engine_config
from spymaster_shared.config.serving_registry import resolve_serving_ref
from spymaster_shared.scoring import score_dataset
from tests.bus.grids import grid_arrays, read_subject, score_arrays

pytestmark = pytest.mark.integration


async def test_engine_grids_equal_the_core(short_env) -> None:  # type: ignore[no-untyped-def]
    spec = load_pipeline(short_env.pipeline).with_capture(start_time="09:24:30")
    cfg = resolve_engine_config(spec)
    expected = run_engine(cfg, capture_records(check_capture(spec.capture), cfg))
    ctxs = [await start_context(n) for n in ("replay-t", "engine-t", "scorer-t")]
    tasks = [
        asyncio.create_task(serve(c))
        for serve, c in zip((serve_replay, serve_engine, serve_scorer), ctxs, strict=True)
    ]
    resolved = resolve_serving_ref(short_env.serving)
    try:
        for c in ctxs:
            await asyncio.wait_for(c.ready.wait(), 20)
        req = StartSessionRequest(pipeline=spec.model_dump(mode="json"), speed=0.0)
        reply = decode_json(
            (await ctxs[0].nc.request(CTL_REPLAY_START, encode_json(req), timeout=20)).data,
            SessionReply,
        )
        assert reply.ok, reply.error
        sreq = ScorerStartRequest(
            reply.session_id,
            resolved.version,
            resolved.serving.model_dump(mode="json"),
            spec.model_dump(mode="json"),
        )
        sreply = decode_json(
            (await ctxs[0].nc.request(CTL_SCORER_START, encode_json(sreq), timeout=20)).data,
            ScorerReply,
        )
        assert sreply.ok, sreply.error
        msgs = await read_subject(ctxs[0].js, subject("grid", reply.session_id), idle=60)
        assert isinstance(msgs[-1][0], StreamEnd) and msgs[-1][0].reason == "complete"
        heads = [h for h, _ in msgs if isinstance(h, GridBin)]
        assert [h.bin_seq for h in heads] == list(range(cfg.n_bins))
        bins, cells = grid_arrays(msgs)
        for name, arr in expected.bins.items():
            assert np.array_equal(bins[name], arr), name
        for name, arr in expected.cells.items():
            assert np.array_equal(cells[name], arr, equal_nan=True), name
        smsgs = await read_subject(
            ctxs[0].js, subject("score", reply.session_id, resolved.version), idle=30
        )
        assert isinstance(smsgs[-1][0], StreamEnd)
        scores = score_arrays(smsgs)
        flow, state = score_dataset(expected, resolved.serving.scoring)
        assert scores["flow_score"].tobytes() == flow.tobytes()
        assert scores["flow_state_code"].tobytes() == state.tobytes()
    finally:
        for c in ctxs:
            c.stopping.set()
        await asyncio.gather(*tasks)
