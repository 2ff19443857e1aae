"""replay service on a real NATS: start/list/stop, contiguous de-duplicated batches, restart."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from spymaster_replay.batches import capture_records, check_capture, event_batches
from spymaster_replay.service import serve
from spymaster_shared.bus.framing import decode_frame, decode_json, encode_json
from spymaster_shared.bus.messages import (
    MboBatch,
    SessionList,
    SessionReply,
    StartSessionRequest,
    StreamEnd,
)
from spymaster_shared.bus.runtime import start_context
from spymaster_shared.bus.streams import STREAM_MBO
from spymaster_shared.bus.subjects import CTL_REPLAY_LIST, CTL_REPLAY_START, subject
from spymaster_shared.config import load_pipeline, resolve_engine_config
from spymaster_shared.dbn.records import MBO_DTYPE

pytestmark = pytest.mark.integration


async def _start(nc, spec, speed: float = 0.0) -> SessionReply:  # type: ignore[no-untyped-def]
    req = StartSessionRequest(pipeline=spec.model_dump(mode="json"), speed=speed)
    msg = await nc.request(CTL_REPLAY_START, encode_json(req), timeout=20)
    return decode_json(msg.data, SessionReply)


async def _stored(js, sid: str) -> list:  # type: ignore[no-untyped-def]
    out = []
    sub = await js.subscribe(subject("mbo", sid), ordered_consumer=True)
    while True:
        try:
            msg = await sub.next_msg(timeout=2)
        except TimeoutError:
            break
        head, body = decode_frame(msg.data)
        out.append((head, bytes(body)))
        if isinstance(head, StreamEnd):
            break
    await sub.unsubscribe()
    return out


async def _run_until(ctx, pred, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    async def loop() -> None:
        while not await pred():
            await asyncio.sleep(0.1)

    await asyncio.wait_for(loop(), timeout)


async def test_replay_publishes_every_record_once_and_resumes(short_env) -> None:  # type: ignore[no-untyped-def]
    spec = load_pipeline(short_env.pipeline).with_capture(start_time="09:25")
    cfg = resolve_engine_config(spec)
    expected = np.concatenate(
        list(event_batches(capture_records(check_capture(spec.capture), cfg)))
    )
    ctx = await start_context("replay-test")
    task = asyncio.create_task(serve(ctx))
    await asyncio.wait_for(ctx.ready.wait(), 20)
    try:
        # an unknown symbol is refused with a reason
        bad = await _start(ctx.nc, spec.with_capture(symbol="ESM4"))
        assert not bad.ok and "ESM4" in (bad.error or "")
        reply = await _start(ctx.nc, spec, speed=0.0)
        assert reply.ok, reply.error
        sid = reply.session_id
        assert sid == spec.dataset_id()
        # kill the service mid-way, then start a new one: it resumes from the stream
        await _run_until(ctx, lambda: _has_batches(ctx.js, sid, 5))
        ctx.stopping.set()
        await task
        ctx2 = await start_context("replay-test-2")
        task = asyncio.create_task(serve(ctx2))
        ctx = ctx2
        await asyncio.wait_for(ctx.ready.wait(), 20)
        again = await _start(ctx.nc, spec, speed=0.0)
        assert again.ok and again.joined
        stored = []

        async def ended() -> bool:
            nonlocal stored
            stored = await _stored(ctx.js, sid)
            return bool(stored) and isinstance(stored[-1][0], StreamEnd)

        await _run_until(ctx, ended)
        heads = [h for h, _ in stored if isinstance(h, MboBatch)]
        assert [h.batch_seq for h in heads] == list(range(len(heads)))
        got = np.frombuffer(
            b"".join(b for h, b in stored if isinstance(h, MboBatch)), dtype=MBO_DTYPE
        )
        assert np.array_equal(got, expected)
        assert stored[-1][0].count == len(heads)
        assert any(h.warmup for h in heads) and not heads[-1].warmup
        listed = decode_json(
            (await ctx.nc.request(CTL_REPLAY_LIST, b"", timeout=5)).data, SessionList
        )
        assert any(s.session_id == sid and s.state == "ended" for s in listed.sessions)
    finally:
        ctx.stopping.set()
        await task


async def _has_batches(js, sid: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    info = await js.stream_info(STREAM_MBO, subjects_filter=subject("mbo", sid))
    return bool(info.state.subjects) and info.state.subjects.get(subject("mbo", sid), 0) >= n
