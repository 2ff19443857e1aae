"""replay -> engine -> scorer -> gateway -> WebSocket, on a real NATS, as real processes.

Parity: what a viewer receives equals, bit for bit, the dataset ``harness generate`` writes
for the same PipelineSpec, and the scores equal ``score_dataset`` over it.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from spymaster_cli.nats_server import free_port
from spymaster_harness.datasets import ensure_dataset, load_dataset
from spymaster_harness.grid_source import read_session_grids
from spymaster_shared.config import load_pipeline
from spymaster_shared.config.serving_registry import resolve_serving_ref
from spymaster_shared.grid_schema import BIN_NAMES, CELL_NAMES
from spymaster_shared.scoring import score_dataset
from tests.bus.client import stream_url, watch
from tests.bus.stack import Stack, stack_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def stack(short_env, nats_url, tmp_path):  # type: ignore[no-untyped-def]
    env = stack_env(nats_url, short_env.config_root, short_env.data_root)
    s = Stack(env, tmp_path, free_port()).start_all()
    try:
        yield s
    finally:
        s.stop()


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


async def test_viewer_receives_the_dataset_and_its_scores(stack, short_env) -> None:  # type: ignore[no-untyped-def]
    params = dict(product_type="future_mbo", symbol="MNQH6", dt=short_env.dt,
                  start_time="09:24:10", speed=0, serving=short_env.serving)  # fmt: skip
    got = await watch(stream_url(stack.gateway_port, **params))
    assert got.close_code == 1000, (got.close_code, got.close_reason, stack.log("gateway")[-2000:])
    assert got.statuses[-1]["state"] == "ended"
    rc = got.runtime_config
    assert rc is not None and rc["serving"]["serving_name"] == short_env.serving
    assert rc["columns"][-3:] == ["flow_score", "flow_state_code", "signal_score"]

    resolved = resolve_serving_ref(short_env.serving)
    spec = load_pipeline(short_env.pipeline)
    spec = spec.with_capture(start_time="09:24:10", end_time=_end(spec, "09:24:10"))
    assert rc["session_id"] == spec.dataset_id()
    ds = load_dataset(ensure_dataset(spec, progress=False)).frames
    assert len(got.updates) == ds.n_bins
    for name in BIN_NAMES:
        sent = np.array([u[name] for u in got.updates], dtype=ds.bins[name].dtype)
        assert _bits(sent) == _bits(ds.bins[name]), name
    cells = got.cells()
    for name in CELL_NAMES:
        assert _bits(cells[name]) == _bits(ds.cells[name]), name
    flow, state = score_dataset(ds, resolved.serving.scoring)
    assert _bits(cells["flow_score"]) == _bits(flow)
    assert _bits(cells["flow_state_code"]) == _bits(state)
    signal = np.array([np.nan if u["signal_score"] is None else u["signal_score"]
                       for u in got.updates])  # fmt: skip
    assert np.array_equal(cells["signal_score"][:, 0], signal, equal_nan=True)

    # the harness's second grid source: the session as recorded on VP_GRID
    recorded = await asyncio.to_thread(
        read_session_grids, stack.env["NATS_URL"], rc["session_id"], progress=False
    )
    for name in BIN_NAMES:
        assert _bits(recorded.bins[name]) == _bits(ds.bins[name]), name
    for name in CELL_NAMES:
        assert _bits(recorded.cells[name]) == _bits(ds.cells[name]), name


async def test_bad_requests_are_refused_with_a_reason(stack, short_env) -> None:  # type: ignore[no-untyped-def]
    base = dict(product_type="future_mbo", symbol="MNQH6", dt=short_env.dt,
                start_time="09:24", pipeline=short_env.pipeline)  # fmt: skip
    cases = [
        ({**base, "colour": "red"}, "colour"),
        ({**base, "speed": "fast"}, "speed"),
        ({k: v for k, v in base.items() if k != "symbol"}, "symbol"),
        ({**base, "dt": "2026-13-01"}, "dt"),
        ({**base, "pipeline": "no_such_pipeline"}, "pipeline"),
        ({**base, "serving": "no_such_serving"}, "serving"),
        ({**base, "symbol": "ESM4"}, "ESM4"),
        ({**base, "symbol": "MNQ*"}, "symbol"),
    ]
    for params, word in cases:
        got = await watch(stream_url(stack.gateway_port, **params))
        assert got.close_code in (1008, 4400), (params, got.close_code, got.close_reason)
        assert word in got.close_reason, (params, got.close_reason)
        assert got.runtime_config is None and not got.updates


def _end(spec, start: str) -> str:  # type: ignore[no-untyped-def]
    from spymaster_gateway.protocol import StreamParams, session_spec

    p = StreamParams("future_mbo", spec.capture.symbol, spec.capture.dt, start)
    return session_spec(spec, p).capture.end_time


async def test_garbage_and_vanishing_viewers_cost_the_others_nothing(stack, short_env) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import websockets

    params = dict(product_type="future_mbo", symbol="MNQH6", dt=short_env.dt,
                  start_time="09:24:40", speed=0, pipeline=short_env.pipeline)  # fmt: skip
    url = stream_url(stack.gateway_port, **params)

    async def rude() -> None:
        async with websockets.connect(url) as ws:
            await ws.send(b"\x00" * 1000)
            await ws.send("{not json")
            await ws.recv()
        # and one that vanishes mid-stream without a close handshake
        ws = await websockets.connect(url)
        await ws.recv()
        ws.transport.abort()

    good, _ = await asyncio.gather(watch(url), rude())
    assert good.close_code == 1000
    seqs = [u["bin_seq"] for u in good.updates]
    assert seqs == list(range(len(seqs))) and len(seqs) > 0
