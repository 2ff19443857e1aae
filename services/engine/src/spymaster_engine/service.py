"""engine service: VP_MBO -> FeatureEngine -> one grid message per bin on VP_GRID.

One durable pull consumer per session (``engine_<session>``, ack policy "all"). Exactly-once
output across kills and NATS restarts:

1. grids of the bins closed by a batch are published with msg id ``<session>:<bin_seq>``;
2. every ``CHECKPOINT_S`` the engine copies its state between two batches and, in the
   background (the stream goes on), waits for the acks of the grids published so far, stores
   the copy (``EngineCheckpoint`` frame + ``FeatureEngine.checkpoint()`` bytes, never pickle)
   in the ``vp_checkpoints`` object store, and only then acks the MBO messages it covers;
3. a restarted engine restores the checkpoint, re-creates the consumer at the next stream
   sequence, and skips bins at or below the last bin_seq already in VP_GRID.

See ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from dataclasses import dataclass
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
import nats.micro
import numpy as np
import pyarrow as pa
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from spymaster_engine.core import FeatureEngine
from spymaster_shared.bus.arrow_frames import encode_frames_ipc
from spymaster_shared.bus.framing import decode_frame, decode_json, encode_frame, encode_json
from spymaster_shared.bus.jetstream import (
    AckedPublisher,
    DeadLetters,
    PublishUnacked,
    PublishWindow,
    last_frame,
    pull_messages,
)
from spymaster_shared.bus.messages import (
    BinHeader,
    EngineCheckpoint,
    EngineSessionStatus,
    EngineStatusList,
    GridBin,
    MboBatch,
    SessionInfo,
    StreamEnd,
)
from spymaster_shared.bus.runtime import ServiceContext, micro_json, run_service
from spymaster_shared.bus.streams import (
    BUCKET_CHECKPOINTS,
    BUCKET_SESSIONS,
    STREAM_GRID,
    STREAM_MBO,
)
from spymaster_shared.bus.subjects import CTL_ENGINE_LIST, msg_id, subject
from spymaster_shared.config import load_pipeline
from spymaster_shared.config.pipeline import PipelineSpec
from spymaster_shared.config.runtime import resolve_engine_config
from spymaster_shared.dbn.records import MBO_DTYPE
from spymaster_shared.errors import BusError, SpymasterError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.grid_schema import BIN_NAMES

log = logging.getLogger("spymaster.engine")

CHECKPOINT_S = 2.0  # as fast as possible: bounded re-work after a crash
CHECKPOINT_PACED_S = 30.0  # paced: compressing a snapshot costs CPU the stream could use
FETCH_BATCH = 64
PUBLISH_WINDOW = 512  # grid publishes in flight (and at most PUBLISH_WINDOW_BYTES)
PUBLISH_WINDOW_BYTES = 8_000_000
INLINE_RECORDS = 4096  # smaller batches (paced replay) skip the worker-thread hop
POLL_SESSIONS_S = 0.5
GRID_ACK_TIMEOUT_S = 10.0
WARM_UP_PIPELINE = "mnq_60m_baseline"


class Gap(Exception):
    """A batch_seq is missing (replay is repairing a hole); re-read from the checkpoint."""


class CheckpointFailed(Exception):
    """A background checkpoint could not be stored; resume from the last stored one."""


def consumer_name(session_id: str) -> str:
    return f"engine_{session_id}"


def checkpoint_key(session_id: str) -> str:
    return f"engine.{session_id}"


def grid_messages(
    session_id: str, frames: GridFrames, after_bin: int, source_pub_wall_ns: int
) -> list[tuple[int, bytes]]:
    """(bin_seq, payload) of each bin in ``frames`` with bin_seq > ``after_bin``. Pure."""
    now = time.time_ns()
    first = int(np.searchsorted(frames.bins["bin_seq"], after_bin, side="right"))
    if first >= frames.n_bins:
        return []
    frames = frames.slice(first, frames.n_bins)
    bodies = encode_frames_ipc(frames)
    headers = zip(*(frames.bins[n].tolist() for n in BIN_NAMES), strict=True)  # BIN_FIELDS order
    out = []
    for values, body in zip(headers, bodies, strict=True):
        head = BinHeader(*values)
        grid = GridBin(session_id, head.bin_seq, head, source_pub_wall_ns, now, len(body))
        out.append((head.bin_seq, encode_frame(grid, body)))
    return out


@dataclass
class SessionStats:
    state: str = "running"
    bins_published: int = 0
    mbo_stream_seq: int = 0
    checkpoints: int = 0
    message: str = ""


class EngineService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stats: dict[str, SessionStats] = {}
        self.done: set[str] = set()
        self.dlq = DeadLetters(ctx.nc, "engine")

    # ------------------------------------------------------------------ discovery

    async def watch_sessions(self) -> None:
        kv = await self.ctx.js.key_value(BUCKET_SESSIONS)
        while not self.ctx.stopping.is_set():
            try:
                keys = await kv.keys()
            except nats.js.errors.NoKeysError:
                keys = []
            except Exception as exc:  # NATS restarting: try again
                log.debug("session poll failed: %s", exc)
                keys = []
            for key in keys:
                if key in self.tasks or key in self.done:
                    continue
                try:
                    entry = await kv.get(key)
                    info = decode_json(entry.value or b"", SessionInfo)
                except Exception:
                    continue
                if info.state in ("stopped", "failed") and key not in self.stats:
                    continue
                self.spawn(info)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ctx.stopping.wait(), POLL_SESSIONS_S)

    def spawn(self, info: SessionInfo) -> None:
        sid = info.session_id
        task = asyncio.create_task(self.run_session(info), name=f"engine-{sid}")
        self.tasks[sid] = task
        task.add_done_callback(lambda _t: self.tasks.pop(sid, None))

    # ------------------------------------------------------------------ one session

    async def run_session(self, info: SessionInfo) -> None:
        sid = info.session_id
        stats = self.stats.setdefault(sid, SessionStats())
        while not self.ctx.stopping.is_set():
            try:
                finished = await self.consume(info, stats)
                if finished:
                    self.done.add(sid)
                    stats.state = "ended"
                return
            except asyncio.CancelledError:
                raise
            except (
                Gap,
                CheckpointFailed,
                PublishUnacked,
                nats.errors.Error,
                TimeoutError,
                OSError,
            ) as exc:
                log.warning("session %s: %s; resuming from checkpoint", sid, exc)
                await asyncio.sleep(1.0)
            except Exception as exc:
                log.exception("session %s failed", sid)
                stats.state, stats.message = "failed", str(exc)
                self.done.add(sid)
                return

    async def load_checkpoint(self, sid: str) -> tuple[EngineCheckpoint, bytes] | None:
        obs = await self.ctx.js.object_store(BUCKET_CHECKPOINTS)
        try:
            res = await obs.get(checkpoint_key(sid))
        except nats.js.errors.ObjectNotFoundError:
            return None
        header, body = decode_frame(res.data or b"")
        if not isinstance(header, EngineCheckpoint):
            raise BusError(f"checkpoint {checkpoint_key(sid)} holds {type(header).__name__}")
        return header, bytes(body)

    async def store_checkpoint(self, ckpt: EngineCheckpoint, blob: bytes) -> None:
        obs = await self.ctx.js.object_store(BUCKET_CHECKPOINTS)
        await obs.put(checkpoint_key(ckpt.session_id), encode_frame(ckpt, blob))

    async def consume(self, info: SessionInfo, stats: SessionStats) -> bool:
        """Process the session until its end marker; True when it is complete."""
        js = self.ctx.js
        sid = info.session_id
        cfg = resolve_engine_config(PipelineSpec.model_validate(info.pipeline))
        grid_subj = subject("grid", sid)
        saved = await self.load_checkpoint(sid)
        if saved is not None and saved[0].done:
            return True
        if saved is None:
            engine, mbo_seq, next_batch = FeatureEngine(cfg), 0, 0
        else:
            head, blob = saved
            engine = await asyncio.to_thread(FeatureEngine.restore, cfg, blob)
            mbo_seq, next_batch = head.mbo_stream_seq, head.next_batch_seq
        last = await last_frame(js, STREAM_GRID, grid_subj)
        last_bin = -1
        if last is not None:
            if isinstance(last[0], StreamEnd):
                return True
            last_bin = last[0].bin_seq
        stats.mbo_stream_seq = mbo_seq

        durable = consumer_name(sid)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(STREAM_MBO, durable)
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.ALL,
            ack_wait=120,
            max_ack_pending=100_000,
            filter_subject=subject("mbo", sid),
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if mbo_seq else DeliverPolicy.ALL,
            opt_start_seq=mbo_seq + 1 if mbo_seq else None,
            inactive_threshold=24 * 3600.0,
        )
        await js.add_consumer(STREAM_MBO, config)
        psub = await js.pull_subscribe_bind(durable=durable, stream=STREAM_MBO)

        window = PublishWindow(PUBLISH_WINDOW, PUBLISH_WINDOW_BYTES)
        publisher = AckedPublisher(self.ctx.nc)
        await publisher.start()
        last_ckpt = time.monotonic()
        every = CHECKPOINT_PACED_S if info.speed > 0 else CHECKPOINT_S
        unacked: Any = None  # the last processed, not yet acknowledged MBO message
        in_flight: asyncio.Task[None] | None = None  # the background checkpoint
        warm = False  # the engine's kernels have run once (compiled)

        async def publish(frames: GridFrames, pub_wall: int) -> None:
            nonlocal last_bin
            for seq, payload in grid_messages(sid, frames, last_bin, pub_wall):
                fut = await publisher.publish(grid_subj, payload, msg_id(sid, seq))
                last_bin = seq
                stats.bins_published += 1
                await window.add(seq, fut, len(payload))

        async def settle_checkpoint() -> None:
            """Wait for the background checkpoint; its failure is this session's."""
            nonlocal in_flight
            task, in_flight = in_flight, None
            if task is not None:
                await task

        def start_checkpoint() -> None:
            """Snapshot the state now (between two batches, ~1 ms), then store it in the
            background: wait for the acks of the grids it covers, compress, store, and only
            then ack the MBO messages it covers. The stream never waits for it."""
            nonlocal last_ckpt, unacked, in_flight
            head = EngineCheckpoint(
                sid, mbo_seq, next_batch, engine.next_bin_seq, time.time_ns(), False, 0
            )
            in_flight = asyncio.create_task(
                self.store_snapshot(copy.deepcopy(engine), head, window.futures(), unacked, stats)
            )
            unacked = None
            last_ckpt = time.monotonic()

        async def checkpoint(done: bool) -> None:
            """Store a checkpoint now and wait for it (the end of a session)."""
            nonlocal last_ckpt, unacked
            await settle_checkpoint()
            await window.settle()
            blob = await asyncio.to_thread(engine.checkpoint)
            ckpt = EngineCheckpoint(
                sid, mbo_seq, next_batch, engine.next_bin_seq, time.time_ns(), done, len(blob)
            )
            await self.store_checkpoint(ckpt, blob)
            if unacked is not None:
                await unacked.ack_sync(timeout=5)
                unacked = None
            stats.checkpoints += 1
            last_ckpt = time.monotonic()

        try:
            async for msg in pull_messages(psub, batch=FETCH_BATCH, idle=0.5):
                if self.ctx.stopping.is_set():
                    break
                if msg is not None:
                    stream_seq = msg.metadata.sequence.stream
                    if stream_seq <= mbo_seq:
                        continue  # already in the checkpointed state
                    try:
                        header, body = decode_frame(msg.data)
                    except BusError as exc:
                        await self.dlq.park(msg.subject, msg.data, exc, stream_seq)
                        mbo_seq, unacked = stream_seq, msg
                        continue
                    if isinstance(header, StreamEnd):
                        if header.reason == "complete":
                            await publish(await asyncio.to_thread(engine.finish), 0)
                        count = max(last_bin + 1, 0)
                        end = StreamEnd(sid, header.reason, count, header.message)
                        await window.settle()
                        await js.publish(
                            grid_subj,
                            encode_frame(end),
                            headers={"Nats-Msg-Id": msg_id(sid, "end")},
                        )
                        mbo_seq, unacked = stream_seq, msg
                        await checkpoint(done=True)
                        with contextlib.suppress(Exception):
                            await js.delete_consumer(STREAM_MBO, durable)
                        log.info("session %s: %s after %d bins", sid, header.reason, count)
                        return True
                    if not isinstance(header, MboBatch):
                        await self.dlq.park(msg.subject, msg.data, "not an MBO batch", stream_seq)
                        mbo_seq, unacked = stream_seq, msg
                        continue
                    if header.batch_seq < next_batch:
                        mbo_seq, unacked = stream_seq, msg
                        continue  # a duplicate that slipped past the dedup window
                    if header.batch_seq > next_batch:
                        raise Gap(f"batch {header.batch_seq} arrived, expected {next_batch}")
                    records = np.frombuffer(body, dtype=MBO_DTYPE)
                    if warm and len(records) <= INLINE_RECORDS:
                        frames = engine.process(records)  # ~0.1 ms: no thread hop
                    else:
                        frames = await asyncio.to_thread(engine.process, records)
                        warm = True
                    await publish(frames, header.pub_wall_ns)
                    next_batch += 1
                    mbo_seq, unacked = stream_seq, msg
                    stats.mbo_stream_seq = mbo_seq
                if in_flight is not None and in_flight.done():
                    await settle_checkpoint()  # raises CheckpointFailed: resume
                if (
                    unacked is not None
                    and in_flight is None
                    and time.monotonic() - last_ckpt >= every
                ):
                    start_checkpoint()
            return False
        finally:
            if in_flight is not None:  # a half-stored checkpoint leaves the last one intact
                in_flight.cancel()
                await asyncio.wait([in_flight])
            await publisher.stop()
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def store_snapshot(
        self,
        snap: FeatureEngine,
        head: EngineCheckpoint,
        grids: list[asyncio.Future[Any]],
        covered: Any,
        stats: SessionStats,
    ) -> None:
        """Background half of a checkpoint: every grid the snapshot covers is stored, then
        the snapshot, then the MBO messages it covers are acknowledged."""
        try:
            if grids:
                done, _ = await asyncio.wait(grids, timeout=GRID_ACK_TIMEOUT_S)
                if len(done) < len(grids) or any(f.cancelled() or f.exception() for f in done):
                    raise CheckpointFailed("grid publishes before the checkpoint not acknowledged")
            blob = await asyncio.to_thread(snap.checkpoint)
            await self.store_checkpoint(msgspec.structs.replace(head, body_len=len(blob)), blob)
            if covered is not None:
                await covered.ack_sync(timeout=5)
        except (CheckpointFailed, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise CheckpointFailed(f"checkpoint at MBO seq {head.mbo_stream_seq}: {exc!r}") from exc
        stats.checkpoints += 1

    # ------------------------------------------------------------------ control

    async def handle_list(self, data: bytes) -> bytes:
        return encode_json(
            EngineStatusList(
                [
                    EngineSessionStatus(
                        sid,
                        s.state,
                        s.bins_published,
                        s.mbo_stream_seq,  # type: ignore[arg-type]
                        s.checkpoints,
                        s.message,
                    )
                    for sid, s in self.stats.items()
                ]
            )
        )


def warm_up() -> None:
    """First calls that are slow, made at start-up rather than in a session's first bin:
    pyarrow imports pandas on its first array conversion (~1 s); numba loads the engine's
    kernels from its cache on their first call (~1 CPU-s; compiles them, ~20 s, after a
    change to ``kernels.py``). The kernels' types do not depend on the pipeline, so the
    default one serves."""
    pa.array(np.zeros(1))
    try:
        cfg = resolve_engine_config(load_pipeline(WARM_UP_PIPELINE))
    except SpymasterError as exc:
        log.info("engine kernels not warmed up at start-up: %s", exc)
        return
    FeatureEngine(cfg).process(np.zeros(0, dtype=MBO_DTYPE))


async def serve(ctx: ServiceContext) -> None:
    core = EngineService(ctx)
    service = await nats.micro.add_service(
        ctx.nc,
        name="spymaster-engine",
        version="0.1.0",
        description="order book + per-tick features: VP_MBO -> VP_GRID",
        stats_handler=lambda ep: {
            "sessions_running": len(core.tasks),
            "bins_published": sum(s.bins_published for s in core.stats.values()),
            "dead_letters": core.dlq.count,
        },
    )
    await service.add_endpoint(
        name="list", subject=CTL_ENGINE_LIST, handler=micro_json(core.handle_list)
    )
    await asyncio.to_thread(warm_up)
    watcher = asyncio.create_task(core.watch_sessions())
    ctx.ready.set()
    await ctx.stopping.wait()
    await service.stop()
    watcher.cancel()
    for task in list(core.tasks.values()):
        task.cancel()
    await asyncio.gather(watcher, *core.tasks.values(), return_exceptions=True)


def main() -> None:
    run_service("engine", serve)
