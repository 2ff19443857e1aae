"""replay service: publishes a session's DBN MBO records into JetStream (VP_MBO).

Control (request/reply, JSON, nats.micro service ``spymaster-replay``):
``vp.ctl.replay.start`` (StartSessionRequest -> SessionReply), ``.stop``, ``.list``.
Sessions live in the ``vp_sessions`` KV bucket; a restarted replay resumes every unfinished
session after the last batch_seq stored for it, so nothing is published twice.
See ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import nats.micro
import numpy as np
from nats.js.kv import KeyValue
from pydantic import ValidationError

from spymaster_replay.batches import (
    Pacer,
    capture_records,
    check_capture,
    event_batches,
    time_sliced,
    warmup_progress,
)
from spymaster_shared.bus.framing import decode_frame, decode_json, encode_frame, encode_json
from spymaster_shared.bus.jetstream import (
    AckedPublisher,
    PublishUnacked,
    PublishWindow,
    last_frame,
)
from spymaster_shared.bus.messages import (
    MboBatch,
    SessionInfo,
    SessionList,
    SessionReply,
    StartSessionRequest,
    StopSessionRequest,
    StreamEnd,
)
from spymaster_shared.bus.runtime import ServiceContext, micro_json, run_service
from spymaster_shared.bus.streams import (
    BUCKET_CHECKPOINTS,
    BUCKET_SCORERS,
    BUCKET_SESSIONS,
    STREAM_GRID,
    STREAM_MBO,
    STREAM_SCORE,
)
from spymaster_shared.bus.subjects import (
    ANY,
    CTL_REPLAY_LIST,
    CTL_REPLAY_START,
    CTL_REPLAY_STOP,
    msg_id,
    subject,
)
from spymaster_shared.config.loader import validation_error
from spymaster_shared.config.pipeline import PipelineSpec
from spymaster_shared.config.runtime import resolve_engine_config
from spymaster_shared.errors import BusError, SpymasterError

log = logging.getLogger("spymaster.replay")

ACTIVE_STATES = ("starting", "warmup", "streaming")
# Publishes in flight per session: up to 256 messages and 8 MB (a larger backlog costs the
# client more than it gains; see PublishWindow).
ACK_WINDOW = 256
ACK_WINDOW_BYTES = 8_000_000
PREFETCH_BATCHES = 32  # batches read ahead of publishing (<= 32 MB)
KV_UPDATE_S = 0.5
HOLE_SCAN_STREAM_SEQS = 20_000
PACE_SLICE_NS = 5_000_000  # paced batches span at most 5 ms of wall time (x speed)


def _now() -> int:
    return time.time_ns()


class ReplayService:
    def __init__(self, ctx: ServiceContext, kv: KeyValue) -> None:
        self.ctx = ctx
        self.kv = kv
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.batches_published = 0
        self.records_published = 0
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ registry

    async def get_session(self, session_id: str) -> tuple[SessionInfo, int] | None:
        try:
            entry = await self.kv.get(session_id)
        except nats.js.errors.KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return decode_json(entry.value, SessionInfo), int(entry.revision or 0)

    async def put_session(self, info: SessionInfo) -> None:
        await self.kv.put(info.session_id, encode_json(info))

    async def list_sessions(self) -> list[SessionInfo]:
        out = []
        try:
            keys = await self.kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        for key in keys:
            got = await self.get_session(key)
            if got:
                out.append(got[0])
        return sorted(out, key=lambda s: s.created_ns)

    # ------------------------------------------------------------------ control

    async def handle_start(self, data: bytes) -> bytes:
        try:
            req = decode_json(data, StartSessionRequest)
            try:
                spec = PipelineSpec.model_validate(req.pipeline)
            except ValidationError as exc:
                raise validation_error(exc, "start request pipeline") from None
            if not (0 <= req.speed <= 1000):
                raise BusError(f"speed {req.speed} must be in [0, 1000]")
            session_id = spec.dataset_id()
            async with self._lock:
                existing = await self.get_session(session_id)
                if existing and existing[0].state in (*ACTIVE_STATES, "ended"):
                    info = existing[0]
                    if info.state in ACTIVE_STATES and session_id not in self.tasks:
                        self.spawn(info)
                    return encode_json(SessionReply(True, session_id, joined=True, session=info))
                cfg = resolve_engine_config(spec)
                await asyncio.to_thread(check_capture, spec.capture)
                if existing:  # stopped or failed: start over from nothing
                    await self.forget_data(session_id)
                info = SessionInfo(
                    session_id=session_id,
                    pipeline_name=spec.name,
                    pipeline=spec.model_dump(mode="json"),
                    speed=float(req.speed),
                    state="starting",
                    n_bins=cfg.n_bins,
                    created_ns=_now(),
                    updated_ns=_now(),
                )
                await self.put_session(info)
                self.spawn(info)
            log.info("session %s started (%s, speed %s)", session_id, spec.name, req.speed)
            return encode_json(SessionReply(True, session_id, session=info))
        except SpymasterError as exc:
            return encode_json(SessionReply(False, error=str(exc)))

    async def handle_stop(self, data: bytes) -> bytes:
        try:
            req = decode_json(data, StopSessionRequest)
            got = await self.get_session(req.session_id)
            if got is None:
                return encode_json(SessionReply(False, req.session_id, error="no such session"))
            task = self.tasks.pop(req.session_id, None)
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            info = got[0]
            if info.state in ACTIVE_STATES:
                await self.publish_end(info.session_id, "stopped", info.batches_published)
                info = _update(info, state="stopped", message="stopped on request")
                await self.put_session(info)
            return encode_json(SessionReply(True, info.session_id, session=info))
        except SpymasterError as exc:
            return encode_json(SessionReply(False, error=str(exc)))

    async def handle_list(self, data: bytes) -> bytes:
        return encode_json(SessionList(await self.list_sessions()))

    async def forget_data(self, session_id: str) -> None:
        """Remove every trace of a stopped/failed session so it can start over."""
        js = self.ctx.js
        await js.purge_stream(STREAM_MBO, subject=subject("mbo", session_id))
        await js.purge_stream(STREAM_GRID, subject=subject("grid", session_id))
        await js.purge_stream(STREAM_SCORE, subject=subject("score", session_id, ANY))
        with contextlib.suppress(Exception):
            obs = await js.object_store(BUCKET_CHECKPOINTS)
            await obs.delete(f"engine.{session_id}")
        with contextlib.suppress(Exception):
            scorers = await js.key_value(BUCKET_SCORERS)
            for key in await scorers.keys():
                if key.startswith(session_id + "."):
                    await scorers.delete(key)

    # ------------------------------------------------------------------ publishing

    def spawn(self, info: SessionInfo) -> None:
        task = asyncio.create_task(self.run_session(info), name=f"replay-{info.session_id}")
        self.tasks[info.session_id] = task
        task.add_done_callback(lambda _t, s=info.session_id: self.tasks.pop(s, None))

    async def publish_end(self, session_id: str, reason: str, count: int) -> None:
        payload = encode_frame(StreamEnd(session_id, reason, count))  # type: ignore[arg-type]
        await self.ctx.js.publish(
            subject("mbo", session_id),
            payload,
            headers={"Nats-Msg-Id": msg_id(session_id, "end"), "Vp-Kind": "end"},
        )

    async def run_session(self, info: SessionInfo) -> None:
        """Publish until the end marker, surviving NATS restarts (resume from the stream)."""
        while True:
            try:
                await self.publish_session(info)
                return
            except asyncio.CancelledError:
                raise
            except (PublishUnacked, nats.errors.Error, TimeoutError, OSError) as exc:
                log.warning(
                    "session %s: publishing interrupted (%s); resuming", info.session_id, exc
                )
                await asyncio.sleep(1.0)
            except Exception as exc:
                log.exception("session %s failed", info.session_id)
                with contextlib.suppress(Exception):
                    await self.publish_end(info.session_id, "failed", 0)
                    await self.put_session(_update(info, state="failed", message=str(exc)))
                return

    async def resume_point(self, session_id: str) -> tuple[int, bool]:
        """(next batch_seq, ended) from what VP_MBO already holds for the session.

        Async publishing can leave a hole if the server lost in-flight messages (a restart);
        anything stored after a hole is deleted so the stream stays contiguous.
        """
        js = self.ctx.js
        subj = subject("mbo", session_id)
        last = await last_frame(js, STREAM_MBO, subj)
        if last is None:
            return 0, False
        header, last_stream_seq = last
        if isinstance(header, StreamEnd):
            return header.count, True
        if not isinstance(header, MboBatch):
            raise BusError(f"unexpected {type(header).__name__} on {subj}")
        # Scan the tail of the subject: batch_seqs must be contiguous.
        stored: list[tuple[int, int]] = []  # (batch_seq, stream_seq)
        seq = max(1, last_stream_seq - HOLE_SCAN_STREAM_SEQS)
        while seq <= last_stream_seq:
            try:
                raw = await js.get_msg(STREAM_MBO, seq=seq, subject=subj, next=True)
            except nats.js.errors.NotFoundError:
                break
            head, _ = decode_frame(raw.data or b"")
            if isinstance(head, MboBatch):
                stored.append((head.batch_seq, int(raw.seq or 0)))
            seq = int(raw.seq or 0) + 1
        for (a, _), (b, _) in itertools.pairwise(stored):
            if b != a + 1:
                hole_after = a
                for batch_seq, s in stored:
                    if batch_seq > hole_after:
                        await js.delete_msg(STREAM_MBO, s)
                log.warning(
                    "session %s: hole after batch %d; deleted %d later batches",
                    session_id,
                    hole_after,
                    sum(1 for q, _ in stored if q > hole_after),
                )
                return hole_after + 1, False
        return header.batch_seq + 1, False

    async def publish_session(self, info: SessionInfo) -> None:
        sid = info.session_id
        subj = subject("mbo", sid)
        spec = PipelineSpec.model_validate(info.pipeline)
        cfg = resolve_engine_config(spec)
        next_seq, ended = await self.resume_point(sid)
        if ended:
            await self.put_session(_update(info, state="ended", progress=1.0))
            return
        files = await asyncio.to_thread(check_capture, spec.capture)
        pacer = Pacer(info.speed, cfg.capture_start_ns)
        window = PublishWindow(ACK_WINDOW, ACK_WINDOW_BYTES)
        n_records = info.records_published if next_seq else 0
        first_ts: int | None = None
        state = info.state
        last_kv = 0.0
        seq = -1
        batches = event_batches(capture_records(files, cfg))
        if info.speed > 0:  # deterministic per session: batch_seq survives a restart
            batches = time_sliced(
                batches, cfg.capture_start_ns, int(PACE_SLICE_NS * info.speed), cfg.cell_width_ns
            )
        kv_writer = _LatestWriter(self.put_session)
        # acks on an inbox of our own (shared/bus/jetstream.py): an error ack fails at once,
        # where nats-py's publish_async future never resolves
        publisher = AckedPublisher(self.ctx.nc)
        await publisher.start()
        try:
            async with Prefetch(batches, PREFETCH_BATCHES) as ahead:
                async for batch in ahead:
                    seq += 1
                    first = int(batch["ts_event"][0])
                    last_ts = int(batch["ts_event"][-1])
                    if first_ts is None:
                        first_ts = first
                    if seq < next_seq:
                        continue
                    warmup = last_ts < cfg.capture_start_ns
                    if pacer.delay(last_ts, time.monotonic(), first) > 0:
                        await window.settle()  # everything before is stored before we sleep
                        # (the wait is measured after the acks: they must not delay the batch)
                        await asyncio.sleep(pacer.delay(last_ts, time.monotonic(), first))
                    # zero-copy view of the records; encode_frame makes the one payload copy
                    body = memoryview(batch.view(np.uint8))
                    header = MboBatch(
                        sid, seq, len(batch), first, last_ts, warmup, _now(), len(body)
                    )
                    payload = encode_frame(header, body)
                    fut = await publisher.publish(
                        subj, payload, msg_id(sid, seq), {"Vp-Warmup": "1" if warmup else "0"}
                    )
                    await window.add(seq, fut, len(payload))
                    self.batches_published += 1
                    n_records += len(batch)
                    self.records_published += len(batch)
                    now = time.monotonic()
                    new_state = "warmup" if warmup else "streaming"
                    anchored = pacer.anchor_wall_ns != info.pace_anchor_wall_ns
                    if new_state != state or now - last_kv > KV_UPDATE_S or anchored:
                        state, last_kv = new_state, now
                        progress = warmup_progress(last_ts, first_ts, cfg.capture_start_ns)
                        info = _update(
                            info,
                            state=new_state,
                            progress=progress,
                            batches_published=seq + 1,
                            records_published=n_records,
                            pace_anchor_wall_ns=pacer.anchor_wall_ns,
                            pace_anchor_ts_ns=pacer.anchor_ts,
                        )
                        # a KV put waits for its ack behind every publish in flight: never on
                        # the publishing path (one put at a time, the latest state wins)
                        kv_writer.put(info)
            await window.settle()
        except BaseException:
            kv_writer.cancel()  # a stale progress write must not land after a stop/failure
            raise
        finally:
            await publisher.stop()
        await kv_writer.close()
        await self.publish_end(sid, "complete", seq + 1)
        info = _update(
            info,
            state="ended",
            progress=1.0,
            batches_published=seq + 1,
            records_published=n_records,
        )
        await self.put_session(info)
        log.info("session %s: published %d batches, %d records", sid, seq + 1, n_records)


class Prefetch:
    """Items of a blocking iterator (reading and cutting DBN records), produced ahead in a
    worker thread into a bounded queue, so reading overlaps publishing.

    ``async with Prefetch(it, n) as ahead: async for item in ahead: ...``; leaving the block
    (normally, by an error or a cancellation) stops the worker.
    """

    _END = object()

    def __init__(self, it: Any, depth: int) -> None:
        self._it = it
        self._depth = depth
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread: asyncio.Future[None] | None = None

    def _produce(self, loop: asyncio.AbstractEventLoop) -> None:
        def put(item: Any) -> bool:
            fut = asyncio.run_coroutine_threadsafe(self._queue.put(item), loop)
            while not self._stop.is_set():
                try:
                    fut.result(timeout=0.2)
                    return True
                except concurrent.futures.TimeoutError:
                    continue
            fut.cancel()
            return False

        try:
            for item in self._it:
                if self._stop.is_set() or not put(item):
                    return
            put(self._END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))

    async def __aenter__(self) -> Prefetch:
        loop = asyncio.get_running_loop()
        self._thread = loop.run_in_executor(None, self._produce, loop)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._stop.set()
        while not self._queue.empty():  # unblock a pending put
            self._queue.get_nowait()
        if self._thread is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._thread)

    def __aiter__(self) -> Prefetch:
        return self

    async def __anext__(self) -> Any:
        item = await self._queue.get()
        if item is self._END:
            raise StopAsyncIteration
        if isinstance(item, _Failed):
            raise item.exc
        return item


@dataclass
class _Failed:
    exc: BaseException


class _LatestWriter:
    """Writes registry updates in the background, one at a time, the latest one winning;
    ``close()`` waits for the last one (so a later, final write cannot be overtaken)."""

    def __init__(self, write: Callable[[Any], Awaitable[None]]) -> None:
        self._write = write
        self._latest: Any = None
        self._task: asyncio.Task[None] | None = None

    def put(self, value: Any) -> None:
        self._latest = value
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._latest is not None:
            value, self._latest = self._latest, None
            try:
                await self._write(value)
            except Exception as exc:  # progress only: the next update or the end rewrites it
                log.debug("registry update failed: %s", exc)

    async def close(self) -> None:
        if self._task is not None:
            await self._task

    def cancel(self) -> None:
        self._latest = None
        if self._task is not None:
            self._task.cancel()


def _update(info: SessionInfo, **changes: Any) -> SessionInfo:
    import msgspec

    return msgspec.structs.replace(info, updated_ns=_now(), **changes)


async def serve(ctx: ServiceContext) -> None:
    kv = await ctx.js.key_value(BUCKET_SESSIONS)
    svc_core = ReplayService(ctx, kv)
    service = await nats.micro.add_service(
        ctx.nc,
        name="spymaster-replay",
        version="0.1.0",
        description="DBN MBO replay into JetStream VP_MBO",
        stats_handler=lambda ep: {
            "sessions_running": len(svc_core.tasks),
            "batches_published": svc_core.batches_published,
            "records_published": svc_core.records_published,
        },
    )
    await service.add_endpoint(
        name="start", subject=CTL_REPLAY_START, handler=micro_json(svc_core.handle_start)
    )
    await service.add_endpoint(
        name="stop", subject=CTL_REPLAY_STOP, handler=micro_json(svc_core.handle_stop)
    )
    await service.add_endpoint(
        name="list", subject=CTL_REPLAY_LIST, handler=micro_json(svc_core.handle_list)
    )
    for info in await svc_core.list_sessions():  # resume what a previous process left running
        if info.state in ACTIVE_STATES:
            log.info("resuming session %s", info.session_id)
            svc_core.spawn(info)
    ctx.ready.set()
    await ctx.stopping.wait()
    await service.stop()
    for task in list(svc_core.tasks.values()):
        task.cancel()
    await asyncio.gather(*svc_core.tasks.values(), return_exceptions=True)


def main() -> None:
    run_service("replay", serve)
