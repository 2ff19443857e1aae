"""AckedPublisher on a real NATS: one future per publish, resolved by its ack, a duplicate
id acknowledged too, an error ack a PublishRefused (never a future left hanging)."""

from __future__ import annotations

import asyncio

import pytest

from spymaster_shared.bus.jetstream import AckedPublisher, PublishRefused, PublishWindow
from spymaster_shared.bus.runtime import start_context
from spymaster_shared.bus.streams import MAX_MSG_BYTES, STREAM_GRID
from spymaster_shared.bus.subjects import subject

pytestmark = pytest.mark.integration


async def test_acks_duplicates_and_refusals(nats_url: str) -> None:
    ctx = await start_context("publisher-t")
    publisher = AckedPublisher(ctx.nc)
    await publisher.start()
    subj = subject("grid", "ackedpublishertest")
    try:
        window = PublishWindow(4, 1_000_000)
        for i in range(20):
            await window.add(i, await publisher.publish(subj, b"x" * 100, f"apt:{i}"), 100)
        await window.settle()
        again = await publisher.publish(subj, b"x" * 100, "apt:3")
        await asyncio.wait_for(again, 5)  # a duplicate is acknowledged, not stored
        info = await ctx.js.stream_info(STREAM_GRID, subjects_filter=subj)
        assert info.state.subjects[subj] == 20
        too_big = await publisher.publish(subj, b"x" * (MAX_MSG_BYTES + 1), "apt:big")
        with pytest.raises(PublishRefused, match="maximum"):
            await asyncio.wait_for(too_big, 5)
        lost = await publisher.publish("vp.nostream.here", b"x", "apt:lost")
        with pytest.raises(PublishRefused, match="503"):
            await asyncio.wait_for(lost, 5)
    finally:
        await publisher.stop()
        await ctx.nc.close()
