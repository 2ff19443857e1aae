"""Streams and buckets on a real NATS server: idempotent creation, de-duplication."""

from __future__ import annotations

import pytest

from spymaster_shared.bus.connect import NatsSettings, connect
from spymaster_shared.bus.streams import STREAM_MBO, ensure_bus
from spymaster_shared.bus.subjects import msg_id, subject

pytestmark = pytest.mark.integration


async def test_ensure_bus_is_idempotent_and_dedups(nats_url: str) -> None:
    nc = await connect(NatsSettings(url=nats_url), name="test")
    try:
        js = nc.jetstream()
        await ensure_bus(js)
        assert await ensure_bus(js) == []
        subj = subject("mbo", "dedupcheck")
        a = await js.publish(subj, b"x", headers={"Nats-Msg-Id": msg_id("dedupcheck", 0)})
        b = await js.publish(subj, b"x", headers={"Nats-Msg-Id": msg_id("dedupcheck", 0)})
        assert b.duplicate and a.seq == b.seq
        await js.purge_stream(STREAM_MBO, subject=subj)
    finally:
        await nc.close()
