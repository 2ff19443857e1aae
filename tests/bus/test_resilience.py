"""Kills and restarts mid-session, on a real NATS, with the services as real processes.

Whatever is killed, the viewer ends up with every bin exactly once, equal bit for bit to the
dataset of the session, and VP_GRID holds each bin once.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from spymaster_cli.nats_server import free_port
from spymaster_harness.datasets import ensure_dataset, load_dataset
from spymaster_shared.bus.connect import NatsSettings, connect
from spymaster_shared.bus.streams import STREAM_GRID
from spymaster_shared.bus.subjects import subject
from spymaster_shared.config import load_pipeline
from spymaster_shared.grid_schema import CELL_NAMES
from tests.bus.client import Received, stream_url, watch
from tests.bus.stack import Stack, stack_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

SPEED = 6  # the 2-minute capture streams for ~20 s: long enough to kill things mid-way


@pytest.fixture
def stack(short_env, nats_url, tmp_path):  # type: ignore[no-untyped-def]
    env = stack_env(nats_url, short_env.config_root, short_env.data_root)
    s = Stack(env, tmp_path, free_port()).start_all()
    try:
        yield s
    finally:
        s.stop()


def _params(short_env, start: str) -> dict:  # type: ignore[no-untyped-def]
    return dict(product_type="future_mbo", symbol="MNQH6", dt=short_env.dt, start_time=start,
                speed=SPEED, pipeline=short_env.pipeline)  # fmt: skip


async def _until_bins(got_task: asyncio.Task, port: int, n: int) -> None:  # type: ignore[type-arg]
    """Wait until the gateway has sent ``n`` bins of some feed."""
    import json
    import urllib.request

    def feeds() -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/sessions", timeout=10) as r:
            return json.loads(r.read())["feeds"]

    while True:
        await asyncio.sleep(0.3)
        if got_task.done():
            return
        try:
            current = await asyncio.to_thread(feeds)
        except OSError:
            continue
        if current and max(f["bins_sent"] for f in current) >= n:
            return


async def _check(got: Received, short_env, start: str, nats_url: str) -> None:  # type: ignore[no-untyped-def]
    from spymaster_gateway.protocol import StreamParams, session_spec

    spec = load_pipeline(short_env.pipeline)
    spec = session_spec(spec, StreamParams("future_mbo", "MNQH6", short_env.dt, start))
    ds = load_dataset(ensure_dataset(spec, progress=False)).frames
    assert got.close_code == 1000, (got.close_code, got.close_reason)
    seqs = [u["bin_seq"] for u in got.updates]
    assert seqs == list(range(ds.n_bins)), (got.statuses[-3:], got.close_reason, len(seqs))
    cells = got.cells()
    for name in CELL_NAMES:
        assert cells[name].tobytes() == np.ascontiguousarray(ds.cells[name]).tobytes(), name
    nc = await connect(NatsSettings(url=nats_url), name="check")
    try:
        info = await nc.jetstream().stream_info(
            STREAM_GRID, subjects_filter=subject("grid", spec.dataset_id())
        )
        assert info.state.subjects[subject("grid", spec.dataset_id())] == ds.n_bins + 1
    finally:
        await nc.close()


async def test_engine_killed_and_restarted_mid_session(stack, short_env, nats_url) -> None:  # type: ignore[no-untyped-def]
    start = "09:24:20"
    viewer = asyncio.create_task(watch(stream_url(stack.gateway_port, **_params(short_env, start))))
    await _until_bins(viewer, stack.gateway_port, 200)
    assert not viewer.done()
    stack.kill("engine")
    await asyncio.sleep(3)
    stack.start("engine")
    got = await asyncio.wait_for(viewer, 300)
    await _check(got, short_env, start, nats_url)


async def test_nats_restart_mid_session(stack, short_env, nats_url, nats_endpoint) -> None:  # type: ignore[no-untyped-def]
    if not nats_endpoint.restartable:
        pytest.skip("external NATS server")
    start = "09:24:30"
    viewer = asyncio.create_task(watch(stream_url(stack.gateway_port, **_params(short_env, start))))
    await _until_bins(viewer, stack.gateway_port, 200)
    assert not viewer.done()
    await asyncio.to_thread(nats_endpoint.kill)
    await asyncio.sleep(2)
    await asyncio.to_thread(nats_endpoint.start)
    got = await asyncio.wait_for(viewer, 300)
    await _check(got, short_env, start, nats_url)
