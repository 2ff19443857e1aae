"""Bus benchmark: replay into JetStream, end-to-end bins/s, latency, and WebSocket fan-out.

Input: a synthetic MNQH6 session (``spymaster_shared.synth``, seed 11; by default a 30-minute
capture, 3.45 M records from the file start 4 min earlier) on a fresh local nats-server
(JetStream file store in a temp dir, removed afterwards), the four services as processes.
Every figure is printed with the machine's load averages (it is often shared).

  (1) replay into JetStream at speed=0: session start-up (start request -> batch 0 stored)
      and the publishing phase (batch 0 stored -> end marker stored, so every ack is in):
      records/s and MB/s over the publishing phase, 1 MB F_LAST batches;
  (1b) the engine catching up with the session of (1), which it finds in the registry when
      it starts (no viewer); (2) waits for it to be done;
  (2) end-to-end bins/s at speed=0 (replay -> engine -> gateway -> one WebSocket viewer),
      CPU seconds per process; the viewer counts frames without keeping them and runs
      without the cyclic GC (its pauses made its gateway queue overflow);
  (3) latency at speed=1 from a bin's close in replay time (the wall-clock instant the
      replay's paced clock passes the bin's end) to the bin's arrival at a WebSocket viewer,
      p50/p90/p99/max over --latency-bins bins once the engine has caught up with warmup;
      also from the publish of the MBO batch that closed the bin;
  (4) fan-out at speed=1 (10 bins/s): N viewers of one session, the slowest viewer's rate,
      then the same with one stalled viewer that never reads.

Targets (issue "Microservices on NATS"): replay >= 5e6 records/s; end-to-end >= 1,000 bins/s;
p99 <= 10 ms; 100 viewers at 10 bins/s each, none below 9 bins/s, a stalled viewer changes
nobody else's rate.

Usage: uv run python benchmarks/bus.py [--viewers 100] [--minutes 30] [--latency-bins 1200]
       [--skip-fanout] [--only-replay | --only-latency]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spymaster_cli.nats_server import NatsServer, free_port  # noqa: E402
from tests.bus.client import stream_url, watch  # noqa: E402
from tests.bus.sessions import make_short_session  # noqa: E402
from tests.bus.stack import Stack, stack_env  # noqa: E402


def load() -> str:
    """The 1/5/15-minute load averages, printed with every figure (the machine is shared)."""
    return "load avg " + "/".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


async def bench_replay(session, nats_url: str, minutes: int) -> str:  # type: ignore[no-untyped-def]
    """Replay throughput, split into session start-up and the publishing phase.

    start-up: from sending ``vp.ctl.replay.start`` to JetStream storing batch 0 (request,
    registry, capture check, opening the file); publishing: from batch 0 to the end marker
    being stored (server-side stored times of the two messages, so the figure includes
    waiting for every ack).
    """
    from spymaster_replay.service import serve
    from spymaster_shared.bus.framing import decode_frame, decode_json, encode_json
    from spymaster_shared.bus.messages import SessionInfo, SessionReply, StartSessionRequest
    from spymaster_shared.bus.runtime import start_context
    from spymaster_shared.bus.streams import BUCKET_SESSIONS, STREAM_MBO
    from spymaster_shared.bus.subjects import CTL_REPLAY_START, subject
    from spymaster_shared.config import load_pipeline

    ctx = await start_context("bench-replay")
    task = asyncio.create_task(serve(ctx))
    await ctx.ready.wait()
    spec = load_pipeline(session.pipeline).with_capture(start_time="09:24:05")
    t_req = time.time_ns()
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
    dt_total = (time.time_ns() - t_req) / 1e9
    subj = subject("mbo", reply.session_id)
    first = await ctx.js.get_msg(STREAM_MBO, seq=1, subject=subj, next=True)
    last = await ctx.js.get_last_msg(STREAM_MBO, subj)
    head, _ = decode_frame(first.data or b"")
    assert head.batch_seq == 0
    t_first = first.time.timestamp()  # type: ignore[union-attr]
    t_last = last.time.timestamp()  # type: ignore[union-attr]
    startup = t_first - t_req / 1e9
    publishing = t_last - t_first
    ctx.stopping.set()
    await task
    n = info.records_published
    print(f"(1) replay -> JetStream, speed=0, {minutes} min capture + 4 min before it: "
          f"{n:,} records in {info.batches_published} batches; session start-up "
          f"{startup * 1e3:.0f} ms (request -> batch 0 stored); publishing {publishing:.2f} s "
          f"(batch 0 stored -> end marker stored): {n / publishing:,.0f} records/s "
          f"({n * 56 / publishing / 1e6:,.0f} MB/s) [target >= 5,000,000]; whole session "
          f"incl. start-up {dt_total:.2f} s: {n / dt_total:,.0f} records/s; {load()}")  # fmt: skip
    return reply.session_id


async def bench_engine_catch_up(session_id: str) -> None:
    """The engine finds the session of (1) in the registry when it starts and works through
    it with no viewer; (2) starts once it is done (else the engine and NATS carry both
    sessions at once). bins/s from the first grid stored to the end marker stored."""
    from nats.js.errors import NotFoundError

    from spymaster_shared.bus.connect import connect
    from spymaster_shared.bus.framing import decode_frame
    from spymaster_shared.bus.messages import StreamEnd
    from spymaster_shared.bus.streams import STREAM_GRID
    from spymaster_shared.bus.subjects import subject

    subj = subject("grid", session_id)
    nc = await connect()
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + 600
        while True:
            try:
                last = await js.get_last_msg(STREAM_GRID, subj)
                end = decode_frame(last.data or b"")[0]
                if isinstance(end, StreamEnd):
                    break
            except NotFoundError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the engine did not finish session {session_id}")
            await asyncio.sleep(0.05)
        first = await js.get_msg(STREAM_GRID, seq=1, subject=subj, next=True)
    finally:
        await nc.close()
    span = last.time.timestamp() - first.time.timestamp()  # type: ignore[union-attr]
    print(f"(1b) engine catching up with the session of (1), no viewer: {end.count:,} bins "
          f"in {span:.2f} s (first grid stored -> end marker stored): "
          f"{end.count / span:,.0f} bins/s; {load()}")  # fmt: skip


@contextlib.contextmanager
def viewer_without_gc() -> Iterator[None]:
    """The benchmark process is the viewer: without this, the cyclic GC's full collections
    (every start-up object plus a growing list of 18,000 decoded updates) stall it for
    40-90 ms a few times per stream, long enough for its 256-bin gateway queue to overflow
    at speed=0. The services freeze their start-up objects the same way."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench_end_to_end(stack: Stack, session, nats_pid: int) -> None:  # type: ignore[no-untyped-def]
    params = dict(product_type="future_mbo", symbol="MNQH6", dt=session.dt,
                  start_time="09:24:10", speed=0, pipeline=session.pipeline)  # fmt: skip
    pids = {name: p.pid for name, p in stack.procs.items()} | {"nats-server": nats_pid}
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    me0 = time.process_time()
    with viewer_without_gc():
        got = await watch(stream_url(stack.gateway_port, **params), keep_frames=False)
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    cpu["viewer"] = time.process_time() - me0
    n = len(got.updates)
    first = got.arrival_ns[0]
    span = (got.arrival_ns[-1] - first) / 1e9
    dropped = got.updates[-1]["bin_seq"] + 1 - n  # the gateway drops a slow viewer's oldest
    print(
        f"(2) end to end, speed=0: {n:,} bins (101 rows) to one viewer in {span:.2f} s "
        f"after the first bin ({dropped} dropped by the viewer's 256-bin gateway queue): "
        f"{n / span:,.0f} bins/s [target >= 1,000]; {load()}"
    )
    print("    CPU seconds during (2): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))


async def bench_latency(stack: Stack, session, bins: int) -> None:  # type: ignore[no-untyped-def]
    """Latency at speed=1 of each bin from its close in replay time to its arrival at a
    WebSocket viewer: ``arrival (time.time_ns) - due(bin_end_ns)``, where due(t) =
    ``pace_anchor_wall_ns + (t - pace_anchor_ts_ns) / speed`` is the wall-clock instant the
    replay's clock passes t (anchor from the session registry). This includes waiting for
    the first event after the bin end (nothing closes a bin before it), replay pacing, the
    engine, the gateway and the WebSocket. Also shown: from the publish of the MBO batch
    that closed the bin (``source_pub_wall_ns``)."""
    from spymaster_shared.bus.connect import connect
    from spymaster_shared.bus.framing import decode_json
    from spymaster_shared.bus.messages import SessionInfo
    from spymaster_shared.bus.streams import BUCKET_SESSIONS

    params = dict(product_type="future_mbo", symbol="MNQH6", dt=session.dt,
                  start_time="09:24:15", speed=1, pipeline=session.pipeline)  # fmt: skip
    got = await watch(stream_url(stack.gateway_port, **params), max_bins=bins)
    sid = got.runtime_config["session_id"]  # type: ignore[index]
    nc = await connect()
    try:
        js = nc.jetstream()
        kv = await js.key_value(BUCKET_SESSIONS)
        info = decode_json((await kv.get(sid)).value or b"", SessionInfo)
        closed = await _grid_closed_ns(js, sid, len(got.updates))
        anchor = (getattr(info, "pace_anchor_wall_ns", 0), getattr(info, "pace_anchor_ts_ns", 0))
        if not anchor[0]:  # a replay that does not report it: the earliest paced publish
            anchor = await _estimate_anchor(
                js, sid, info, max(u["bin_end_ns"] for u in got.updates)
            )
    finally:
        await nc.close()
    arrival = np.array(got.arrival_ns, dtype=np.int64)
    bin_end = np.array([u["bin_end_ns"] for u in got.updates], dtype=np.int64)
    due = anchor[0] + (bin_end - anchor[1]) / info.speed
    lat = (arrival - due) / 1e6
    src = np.array([u["source_pub_wall_ns"] for u in got.updates], dtype=np.int64)
    lat_pub = (arrival - src) / 1e6
    seqs = [u["bin_seq"] for u in got.updates]
    eng = np.array([closed.get(q, 0) for q in seqs], dtype=np.int64)
    # the first bins wait for the engine to chew through the warmup: skip until caught up
    caught = int(np.argmax(lat < 50)) if (lat < 50).any() else len(lat)
    steady, steady_pub = lat[caught:], lat_pub[caught:][src[caught:] > 0]
    ok = (src > 0) & (eng > 0)
    ok[:caught] = False
    to_engine, to_viewer = (eng - src)[ok] / 1e6, (arrival - eng)[ok] / 1e6
    close_to_pub = (src - due)[ok] / 1e6
    if os.environ.get("BENCH_DUMP"):  # per-bin figures for a closer look
        np.savez(os.environ["BENCH_DUMP"], arrival=arrival, due=due, src=src, eng=eng, seq=seqs)
    if len(steady) == 0:
        print(f"(3) latency: engine never caught up; {load()}", lat[:3], lat[-3:], info)
        return

    def pct(x: np.ndarray) -> str:
        return (f"p50 {np.percentile(x, 50):.2f} ms, p90 {np.percentile(x, 90):.2f}, "
                f"p99 {np.percentile(x, 99):.2f}, max {x.max():.2f}")  # fmt: skip

    print(f"(3) latency at speed=1, {len(steady)} bins after catch-up (skipped {caught}): "
          f"bin close in replay time -> viewer: {pct(steady)} [target p99 <= 10]; "
          f"publish of the closing MBO batch -> viewer: {pct(steady_pub)}; {load()}")  # fmt: skip
    print(f"    split: bin close -> closing batch published (waiting for the next event, "
          f"pacing): {pct(close_to_pub)}; published -> engine built the grid: {pct(to_engine)}; "
          f"grid built -> viewer: {pct(to_viewer)}")  # fmt: skip


async def _read_subject(js, stream: str, subj: str, stop) -> None:  # type: ignore[no-untyped-def]
    """Decoded headers of ``subj`` from its first message, to ``stop(header)`` returning True
    (or 3 s without a message, or 60 s in all)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from spymaster_shared.bus.framing import decode_frame

    cfg = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                         filter_subject=subj, inactive_threshold=30.0)  # fmt: skip
    psub = await js.pull_subscribe(subj, durable=None, stream=stream, config=cfg)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                msgs = await psub.fetch(256, timeout=3)
            except TimeoutError:
                return
            for msg in msgs:
                if stop(decode_frame(msg.data)[0]):
                    return
    finally:
        await psub.unsubscribe()


async def _grid_closed_ns(js, sid: str, n: int) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """bin_seq -> closed_wall_ns of the session's first ``n`` grids in VP_GRID."""
    from spymaster_shared.bus.messages import GridBin
    from spymaster_shared.bus.streams import STREAM_GRID
    from spymaster_shared.bus.subjects import subject

    out: dict[int, int] = {}

    def take(head) -> bool:  # type: ignore[no-untyped-def]
        if isinstance(head, GridBin):
            out[head.bin_seq] = head.closed_wall_ns
        return len(out) >= n

    await _read_subject(js, STREAM_GRID, subject("grid", sid), take)
    return out


async def _estimate_anchor(js, sid: str, info, until_ns: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(wall ns, event ns) pacing anchor of a replay that does not report it: the capture
    start is due at min(pub_wall_ns - (last_ts_event - capture start) / speed) over the
    paced batches up to event time ``until_ns`` (each is published at or just after its due
    time)."""
    from spymaster_shared.bus.messages import MboBatch
    from spymaster_shared.bus.streams import STREAM_MBO
    from spymaster_shared.bus.subjects import subject
    from spymaster_shared.config import resolve_engine_config
    from spymaster_shared.config.pipeline import PipelineSpec

    start = resolve_engine_config(PipelineSpec.model_validate(info.pipeline)).capture_start_ns
    best: list[float] = []

    def take(head) -> bool:  # type: ignore[no-untyped-def]
        if isinstance(head, MboBatch) and not head.warmup:
            best.append(head.pub_wall_ns - (head.last_ts_event - start) / info.speed)
            return head.last_ts_event > until_ns  # the session goes on: enough
        return False

    await _read_subject(js, STREAM_MBO, subject("mbo", sid), take)
    return int(min(best, default=0)), start


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
            f"{rates[-1]:.2f} [target: none below 9]; {load()}"
        )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=30, help="capture minutes of the session")
    ap.add_argument("--only-replay", action="store_true")
    ap.add_argument("--only-latency", action="store_true")
    ap.add_argument("--latency-bins", type=int, default=1200, help="bins (100 ms) watched")
    ap.add_argument("--skip-fanout", action="store_true")
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                    help="event loop of the benchmark process")  # fmt: skip
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="spymaster-bench-bus-"))
    try:
        await run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the JetStream store is GBs


async def run(args: argparse.Namespace, tmp: Path) -> None:
    print(f"machine: {platform.platform()}, {os.cpu_count()} x {cpu_model()}, "
          f"Python {platform.python_version()}, {args.loop} in the benchmark process, "
          f"{load()}")  # fmt: skip
    session = make_short_session(tmp, minutes=args.minutes, warmup_minutes=0.5)
    print(f"input: synthetic MNQH6 {session.dbn.stat().st_size / 1e6:.0f} MB DBN, capture "
          f"{args.minutes} min from 09:24 NY, warmup 0.5 min, 100 ms bins, 101 rows; "
          f"nats-server JetStream file store in {tmp}")  # fmt: skip
    server = NatsServer(store_dir=tmp / "js", log_file=tmp / "nats.log").start()
    os.environ.update(NATS_URL=server.url, SPYMASTER_CONFIG_ROOT=str(session.config_root),
                      SPYMASTER_DATA_ROOT=str(session.data_root))  # fmt: skip
    try:
        replayed = None
        if not args.only_latency:
            replayed = await bench_replay(session, server.url, args.minutes)
        if args.only_replay:
            return
        env = stack_env(server.url, session.config_root, session.data_root,
                        SPYMASTER_GATEWAY_QUEUE_BINS="256",
                        SPYMASTER_GATEWAY_HISTORY_BINS="50")  # fmt: skip
        stack = Stack(env, tmp, free_port()).start_all()
        try:
            if replayed is not None:
                await bench_engine_catch_up(replayed)
            if not args.only_latency:
                await bench_end_to_end(stack, session, server.proc.pid)  # type: ignore[union-attr]
            await bench_latency(stack, session, args.latency_bins)
            if not args.skip_fanout and not args.only_latency:
                await bench_fanout(stack, session, args.viewers)
        finally:
            stack.stop()
    finally:
        server.stop()


if __name__ == "__main__":
    # the services' event loop: uvloop when installed (also for the in-process replay of (1)
    # and the viewers); --loop asyncio for services that run on the default loop
    if "--loop" in sys.argv and sys.argv[sys.argv.index("--loop") + 1] == "asyncio":
        asyncio.run(main())
    else:
        import uvloop

        uvloop.run(main())
