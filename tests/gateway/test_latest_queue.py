"""LatestQueue: a slow viewer loses its oldest bins; what is queued can be taken at once."""

from __future__ import annotations

import asyncio

import pytest

from spymaster_gateway.protocol import LatestQueue


def test_full_queue_drops_the_oldest() -> None:
    q = LatestQueue(3)
    for i in range(5):
        q.put(i)
    assert q.dropped == 2
    assert [q.get_nowait() for _ in range(3)] == [2, 3, 4]


async def test_get_nowait_empty_then_closed() -> None:
    q = LatestQueue(4)
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    q.put("a")
    q.close()
    q.put("b")  # ignored once closed
    assert q.get_nowait() == "a"
    assert q.get_nowait() is None
    assert await q.get() is None
