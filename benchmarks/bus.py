"""Bus benchmark: replay into JetStream, end-to-end bins/s, latency, and WebSocket fan-out.

Input: synthetic MNQH6 sessions (``spymaster_shared.synth``, seed 11) on a fresh local
nats-server (JetStream file store in a temp dir), the four services as processes.
Prints the input and the figures:

  (1) replay throughput into JetStream at speed=0 (records/s, MB/s), 1 MB F_LAST batches;
  (2) end-to-end bins/s at speed=0 (replay -> engine -> gateway -> one WebSocket viewer);
  (3) latency at speed=1 from the publish of the MBO batch that closes a bin to the bin's
      arrival at a WebSocket viewer (p50, p99), once the engine has caught up with warmup;
  (4) fan-out at speed=1 (10 bins/s): N viewers of one session, the slowest viewer's rate,
      then the same with one stalled viewer that never reads.

Targets (issue "Microservices on NATS"): replay >= 5e6 records/s; end-to-end >= 1,000 bins/s;
p99 <= 10 ms; 100 viewers at 10 bins/s each, none below 9 bins/s, a stalled viewer changes
nobody else's rate.

Usage: uv run python benchmarks/bus.py [--viewers 100] [--minutes 4] [--skip-fanout]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spymaster_cli.nats_server import NatsServer, free_port  # noqa: E402
from tests.bus.client import stream_url, watch  # noqa: E402
from tests.bus.sessions import make_short_session  # noqa: E402
from tests.bus.stack import Stack, stack_env  # noqa: E402


async def bench_replay(session, nats_url: str) -> None:  # type: ignore[no-untyped-def]
    from spymaster_replay.service import serve
    from spymaster_shared.bus.framing import decode_json, encode_json
    from spymaster_shared.bus.messages import SessionInfo, SessionReply, StartSessionRequest
    from spymaster_shared.bus.runtime import start_context
    from spymaster_shared.bus.streams import BUCKET_SESSIONS
    from spymaster_shared.bus.subjects import CTL_REPLAY_START
    from spymaster_shared.config import load_pipeline

    ctx = await start_context("bench-replay")
    task = asyncio.create_task(serve(ctx))
    await ctx.ready.wait()
    spec = load_pipeline(session.pipeline).with_capture(start_time="09:24:05")
    t0 = time.perf_counter()
    req = StartSessionRequest(pipeline=spec.model_dump(mode="json"), speed=0.0)
    reply = decode_json(
        (await ctx.nc.request(CTL_REPLAY_START, encode_json(req), timeout=60)).data, SessionReply
    )
    assert reply.ok, reply.error
    kv = await ctx.js.key_value(BUCKET_SESSIONS)
    while True:
        info = decode_json((await kv.get(reply.session_id)).value or b"", SessionInfo)
        if info.state == "ended":
            break
        await asyncio.sleep(0.01)
    dt = time.perf_counter() - t0
    ctx.stopping.set()
    await task
    n = info.records_published
    print(f"(1) replay -> JetStream, speed=0: {n:,} records in {info.batches_published} "
          f"batches, {dt:.2f} s: {n / dt:,.0f} records/s ({n * 56 / dt / 1e6:,.0f} MB/s) "
          f"[target >= 5,000,000]")  # fmt: skip


async def bench_end_to_end(stack: Stack, session) -> None:  # type: ignore[no-untyped-def]
    params = dict(product_type="future_mbo", symbol="MNQH6", dt=session.dt,
                  start_time="09:24:10", speed=0, pipeline=session.pipeline)  # fmt: skip
    got = await watch(stream_url(stack.gateway_port, **params))
    n = len(got.updates)
    first = got.arrival_ns[0]
    span = (got.arrival_ns[-1] - first) / 1e9
    print(
        f"(2) end to end, speed=0: {n:,} bins (101 rows) to one viewer in {span:.2f} s "
        f"after the first bin: {n / span:,.0f} bins/s [target >= 1,000]"
    )


async def bench_latency(stack: Stack, session) -> None:  # type: ignore[no-untyped-def]
    params = dict(product_type="future_mbo", symbol="MNQH6", dt=session.dt,
                  start_time="09:24:15", speed=1, pipeline=session.pipeline)  # fmt: skip
    got = await watch(stream_url(stack.gateway_port, **params), max_bins=400)
    lat = np.array([(a - u["source_pub_wall_ns"]) / 1e6
                    for a, u in zip(got.arrival_ns, got.updates, strict=True)
                    if u["source_pub_wall_ns"]])  # fmt: skip
    # the first bins wait for the engine to chew through the warmup: skip until caught up
    caught = int(np.argmax(lat < 50)) if (lat < 50).any() else len(lat)
    steady = lat[caught:]
    if len(steady) == 0:
        print("(3) latency: engine never caught up")
        return
    print(
        f"(3) latency at speed=1 (batch publish -> viewer), {len(steady)} bins after catch-up "
        f"(skipped {caught}): p50 {np.percentile(steady, 50):.2f} ms, "
        f"p99 {np.percentile(steady, 99):.2f} ms, max {steady.max():.2f} ms [target p99 <= 10]"
    )


async def _viewer(url: str, seconds: float, stall: bool = False) -> tuple[int, float]:
    import websockets

    async with websockets.connect(url, max_size=None, max_queue=4, compression=None) as ws:
        if stall:
            await asyncio.sleep(seconds + 5)
            return 0, 0.0
        t0 = None
        n = 0
        end = time.monotonic() + seconds + 30
        while time.monotonic() < end:
            msg = await ws.recv()
            if isinstance(msg, str) and msg.startswith('{"type":"grid_update"'):
                if t0 is None:
                    t0 = time.monotonic()
                    end = t0 + seconds
                n += 1
        return n, (time.monotonic() - (t0 or time.monotonic()))


async def bench_fanout(stack: Stack, session, viewers: int) -> None:  # type: ignore[no-untyped-def]
    for stalled, start in ((False, "09:24:20"), (True, "09:24:25")):
        params = dict(product_type="future_mbo", symbol="MNQH6", dt=session.dt,
                      start_time=start, speed=1, pipeline=session.pipeline)  # fmt: skip
        url = stream_url(stack.gateway_port, **params)
        # let the engine get through the warmup first, so every viewer sees live bins
        await watch(url, max_bins=1)
        await asyncio.sleep(3)
        seconds = 20.0
        tasks = [asyncio.create_task(_viewer(url, seconds)) for _ in range(viewers)]
        if stalled:
            tasks.append(asyncio.create_task(_viewer(url, seconds, stall=True)))
        results = await asyncio.gather(*tasks)
        rates = sorted(n / t for n, t in results[:viewers] if t > 0)
        label = f"{viewers} viewers" + (" + 1 stalled viewer" if stalled else "")
        print(
            f"(4) fan-out, {label}, speed=1 (10 bins/s), {seconds:.0f} s window: slowest "
            f"{rates[0]:.2f} bins/s, median {rates[len(rates) // 2]:.2f}, fastest "
            f"{rates[-1]:.2f} [target: none below 9]"
        )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=4, help="capture minutes of the session")
    ap.add_argument("--skip-fanout", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="spymaster-bench-bus-"))
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    session = make_short_session(tmp, minutes=args.minutes, warmup_minutes=0.5)
    print(f"input: synthetic MNQH6 {session.dbn.stat().st_size / 1e6:.0f} MB DBN, capture "
          f"{args.minutes} min from 09:24 NY, warmup 0.5 min, 100 ms bins, 101 rows; "
          f"nats-server JetStream file store in {tmp}")  # fmt: skip
    server = NatsServer(store_dir=tmp / "js", log_file=tmp / "nats.log").start()
    os.environ.update(NATS_URL=server.url, SPYMASTER_CONFIG_ROOT=str(session.config_root),
                      SPYMASTER_DATA_ROOT=str(session.data_root))  # fmt: skip
    try:
        await bench_replay(session, server.url)
        env = stack_env(server.url, session.config_root, session.data_root,
                        SPYMASTER_GATEWAY_QUEUE_BINS="256",
                        SPYMASTER_GATEWAY_HISTORY_BINS="50")  # fmt: skip
        stack = Stack(env, tmp, free_port()).start_all()
        try:
            await bench_end_to_end(stack, session)
            await bench_latency(stack, session)
            if not args.skip_fanout:
                await bench_fanout(stack, session, args.viewers)
        finally:
            stack.stop()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
