"""Bad input on the bus is counted, parked on vp.dlq.<service> and never fatal."""

from __future__ import annotations

import asyncio

import msgspec
import numpy as np
import pytest

from spymaster_engine.core import run_engine
from spymaster_engine.service import serve as serve_engine
from spymaster_replay.batches import capture_records, check_capture, event_batches
from spymaster_shared.bus.framing import encode_frame, encode_json
from spymaster_shared.bus.messages import DeadLetter, MboBatch, SessionInfo, StreamEnd
from spymaster_shared.bus.runtime import start_context
from spymaster_shared.bus.streams import BUCKET_SESSIONS, STREAM_DLQ
from spymaster_shared.bus.subjects import msg_id, subject
from spymaster_shared.config import load_pipeline, resolve_engine_config
from tests.bus.grids import grid_arrays, read_subject

pytestmark = pytest.mark.integration


async def test_engine_parks_garbage_and_keeps_going(short_env) -> None:  # type: ignore[no-untyped-def]
    spec = load_pipeline(short_env.pipeline).with_capture(start_time="09:25:40")
    cfg = resolve_engine_config(spec)
    batches = list(event_batches(capture_records(check_capture(spec.capture), cfg)))
    expected = run_engine(cfg, batches)
    sid = spec.dataset_id()
    ctx = await start_context("bad-input-test")
    js = ctx.js
    subj = subject("mbo", sid)
    dlq_before = (await js.stream_info(STREAM_DLQ)).state.messages
    good = []
    for seq, batch in enumerate(batches):
        body = batch.tobytes()
        good.append(encode_frame(MboBatch(sid, seq, len(batch), 0, 0, False, 0, len(body)), body))
    garbage = [b"not a frame at all", good[1][:100], good[2] + b"trailing"]
    for i, payload in enumerate(good):
        await js.publish(subj, payload, headers={"Nats-Msg-Id": msg_id(sid, i)})
        if i < len(garbage):
            await js.publish(subj, garbage[i])
    await js.publish(subj, encode_frame(StreamEnd(sid, "complete", len(good))))
    kv = await js.key_value(BUCKET_SESSIONS)
    info = SessionInfo(sid, spec.name, spec.model_dump(mode="json"), 0.0, "ended")
    await kv.put(sid, encode_json(info))
    engine_ctx = await start_context("engine-bad")
    task = asyncio.create_task(serve_engine(engine_ctx))
    try:
        msgs = await read_subject(js, subject("grid", sid), idle=60)
        assert isinstance(msgs[-1][0], StreamEnd)
        bins, cells = grid_arrays(msgs)
        assert np.array_equal(bins["bin_seq"], expected.bins["bin_seq"])
        assert cells["composite"].tobytes() == expected.cells["composite"].tobytes()
        info = await js.stream_info(STREAM_DLQ)
        assert info.state.messages - dlq_before == len(garbage)
        last = await js.get_last_msg(STREAM_DLQ, subject("dlq", "engine"))
        letter = msgspec.msgpack.decode(last.data, type=DeadLetter)
        assert letter.service == "engine" and letter.subject == subj and letter.error
    finally:
        engine_ctx.stopping.set()
        await task
        await ctx.nc.close()
