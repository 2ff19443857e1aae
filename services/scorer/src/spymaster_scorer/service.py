"""scorer service: VP_GRID -> (SpectrumScorer + signal + Projector) -> VP_SCORE.

One job per (session, ServingSpec version), started by request/reply on
``vp.ctl.scorer.start`` and kept in the ``vp_scorers`` KV bucket, so a restarted scorer resumes
every running job. A job re-reads the session's grids from the first bin (scoring is cheap and
deterministic) and publishes only bins after the last one VP_SCORE already holds, with msg id
``<session>:<serving>:<bin_seq>``: nothing lost, nothing doubled. See ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
import nats.js.errors
import nats.micro
import numpy as np
from nats.js.kv import KeyValue
from pydantic import ValidationError

from spymaster_scorer.core import BinScorer
from spymaster_shared.bus.arrow_frames import cells_of, decode_ipc
from spymaster_shared.bus.framing import decode_frame, decode_json, encode_frame, encode_json
from spymaster_shared.bus.jetstream import (
    AckedPublisher,
    DeadLetters,
    PublishUnacked,
    PublishWindow,
    follow_subject,
    last_frame,
)
from spymaster_shared.bus.messages import (
    GridBin,
    ScoreBin,
    ScorerJob,
    ScorerJobList,
    ScorerReply,
    ScorerStartRequest,
    ScorerStopRequest,
    StreamEnd,
)
from spymaster_shared.bus.runtime import ServiceContext, micro_json, run_service
from spymaster_shared.bus.streams import BUCKET_SCORERS, STREAM_GRID, STREAM_SCORE
from spymaster_shared.bus.subjects import (
    CTL_SCORER_LIST,
    CTL_SCORER_START,
    CTL_SCORER_STOP,
    msg_id,
    subject,
)
from spymaster_shared.config.loader import validation_error
from spymaster_shared.config.pipeline import PipelineSpec
from spymaster_shared.config.runtime import resolve_engine_config
from spymaster_shared.config.serving import ServingSpec
from spymaster_shared.errors import BusError, SpymasterError
from spymaster_shared.names import check_name

log = logging.getLogger("spymaster.scorer")

PUBLISH_WINDOW = 512  # score publishes in flight (and at most PUBLISH_WINDOW_BYTES)
PUBLISH_WINDOW_BYTES = 4_000_000
KV_UPDATE_S = 1.0


def job_key(session_id: str, version: str) -> str:
    return f"{check_name(session_id, 'session_id')}.{check_name(version, 'serving_version')}"


def score_payload(
    session_id: str, version: str, bin_seq: int, score: Any, source_pub_wall_ns: int
) -> bytes:
    body = (
        np.ascontiguousarray(score.flow_score, dtype="<f8").tobytes()
        + np.ascontiguousarray(score.flow_state_code, dtype="i1").tobytes()
    )
    head = ScoreBin(
        session_id=session_id,
        serving_version=version,
        bin_seq=bin_seq,
        n_cells=len(score.flow_score),
        signal_score=score.signal_score,
        score_ready=score.score_ready,
        projection=score.projection,
        source_pub_wall_ns=source_pub_wall_ns,
        body_len=len(body),
    )
    return encode_frame(head, body)


class ScorerService:
    def __init__(self, ctx: ServiceContext, kv: KeyValue) -> None:
        self.ctx = ctx
        self.kv = kv
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.bins_scored = 0
        self.dlq = DeadLetters(ctx.nc, "scorer")
        self._lock = asyncio.Lock()

    async def put_job(self, job: ScorerJob) -> None:
        await self.kv.put(job_key(job.session_id, job.serving_version), encode_json(job))

    async def jobs(self) -> list[ScorerJob]:
        try:
            keys = await self.kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        out = []
        for key in keys:
            with contextlib.suppress(Exception):
                out.append(decode_json((await self.kv.get(key)).value or b"", ScorerJob))
        return out

    # ------------------------------------------------------------------ control

    async def handle_start(self, data: bytes) -> bytes:
        try:
            req = decode_json(data, ScorerStartRequest)
            key = job_key(req.session_id, req.serving_version)
            try:
                ServingSpec.model_validate(req.serving)
                PipelineSpec.model_validate(req.pipeline)
            except ValidationError as exc:
                raise validation_error(exc, "scorer start request") from None
            async with self._lock:
                job = None
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    entry = await self.kv.get(key)
                    job = decode_json(entry.value or b"", ScorerJob)
                if job is None or job.state in ("stopped", "failed"):
                    job = ScorerJob(
                        req.session_id, req.serving_version, req.serving, req.pipeline,
                        updated_ns=time.time_ns(),
                    )  # fmt: skip
                    await self.put_job(job)
                if job.state == "running" and key not in self.tasks:
                    self.spawn(job)
            return encode_json(ScorerReply(True, job=job))
        except SpymasterError as exc:
            return encode_json(ScorerReply(False, error=str(exc)))

    async def handle_stop(self, data: bytes) -> bytes:
        try:
            req = decode_json(data, ScorerStopRequest)
            key = job_key(req.session_id, req.serving_version)
            task = self.tasks.pop(key, None)
            if task:
                task.cancel()
            entry = await self.kv.get(key)
            job = decode_json(entry.value or b"", ScorerJob)
            job = msgspec.structs.replace(job, state="stopped", updated_ns=time.time_ns())
            await self.put_job(job)
            return encode_json(ScorerReply(True, job=job))
        except (SpymasterError, nats.js.errors.KeyNotFoundError) as exc:
            return encode_json(ScorerReply(False, error=str(exc) or "no such job"))

    async def handle_list(self, data: bytes) -> bytes:
        return encode_json(ScorerJobList(await self.jobs()))

    # ------------------------------------------------------------------ jobs

    def spawn(self, job: ScorerJob) -> None:
        key = job_key(job.session_id, job.serving_version)
        task = asyncio.create_task(self.run_job(job), name=f"scorer-{key}")
        self.tasks[key] = task
        task.add_done_callback(lambda _t: self.tasks.pop(key, None))

    async def run_job(self, job: ScorerJob) -> None:
        while not self.ctx.stopping.is_set():
            try:
                await self.score(job)
                return
            except asyncio.CancelledError:
                raise
            except (PublishUnacked, nats.errors.Error, TimeoutError, OSError) as exc:
                log.warning("job %s/%s: %s; resuming", job.session_id, job.serving_version, exc)
                await asyncio.sleep(1.0)
            except Exception as exc:
                log.exception("job %s/%s failed", job.session_id, job.serving_version)
                with contextlib.suppress(Exception):
                    await self.put_job(
                        msgspec.structs.replace(job, state="failed", message=str(exc))
                    )
                return

    async def score(self, job: ScorerJob) -> None:
        js = self.ctx.js
        sid, version = job.session_id, job.serving_version
        serving = ServingSpec.model_validate(job.serving)
        cfg = resolve_engine_config(PipelineSpec.model_validate(job.pipeline))
        scorer = BinScorer(serving, cell_width_ms=cfg.cell_width_ms, n_cells=cfg.n_grid_rows)
        out_subj = subject("score", sid, version)
        last_bin = -1
        last = await last_frame(js, STREAM_SCORE, out_subj)
        if last is not None:
            if isinstance(last[0], StreamEnd):
                await self.put_job(msgspec.structs.replace(job, state="ended"))
                return
            last_bin = last[0].bin_seq
        # acks on an inbox of our own: an error ack (stream full...) fails at once, where
        # nats-py's publish_async future would never resolve (shared/bus/jetstream.py)
        window = PublishWindow(PUBLISH_WINDOW, PUBLISH_WINDOW_BYTES)
        publisher = AckedPublisher(self.ctx.nc)
        await publisher.start()
        try:
            await self._score(job, js, scorer, out_subj, last_bin, window, publisher)
        finally:
            await publisher.stop()

    async def _score(
        self,
        job: ScorerJob,
        js: Any,
        scorer: BinScorer,
        out_subj: str,
        last_bin: int,
        window: PublishWindow,
        publisher: AckedPublisher,
    ) -> None:
        sid, version = job.session_id, job.serving_version
        last_kv = 0.0
        async for msg in follow_subject(
            js, STREAM_GRID, subject("grid", sid), stopping=self.ctx.stopping
        ):
            try:
                header, body = decode_frame(msg.data)
                if isinstance(header, StreamEnd):
                    await window.settle()
                    end = StreamEnd(sid, header.reason, header.count, header.message)
                    await js.publish(
                        out_subj,
                        encode_frame(end),
                        headers={"Nats-Msg-Id": msg_id(sid, version, "end")},
                    )
                    await self.put_job(
                        msgspec.structs.replace(
                            job, state="ended", bins_scored=scorer.n_bins, updated_ns=time.time_ns()
                        )
                    )
                    log.info("job %s/%s ended after %d bins", sid, version, scorer.n_bins)
                    return
                if not isinstance(header, GridBin):
                    raise BusError(f"unexpected {type(header).__name__} on a grid subject")
                if header.bin_seq != scorer.n_bins:
                    raise BusError(f"bin {header.bin_seq} arrived, expected {scorer.n_bins}")
                cells = cells_of(decode_ipc(body))
            except BusError as exc:
                await self.dlq.park(msg.subject, msg.data, exc, msg.metadata.sequence.stream)
                continue
            bin_fields = msgspec.structs.asdict(header.bin)
            result = scorer.update(cells, bin_fields)
            self.bins_scored += 1
            if header.bin_seq <= last_bin:
                continue
            payload = score_payload(sid, version, header.bin_seq, result, header.source_pub_wall_ns)
            fut = await publisher.publish(out_subj, payload, msg_id(sid, version, header.bin_seq))
            await window.add(header.bin_seq, fut, len(payload))
            now = time.monotonic()
            if now - last_kv > KV_UPDATE_S:
                last_kv = now
                job = msgspec.structs.replace(
                    job, bins_scored=scorer.n_bins, updated_ns=time.time_ns()
                )
                await self.put_job(job)


async def serve(ctx: ServiceContext) -> None:
    kv = await ctx.js.key_value(BUCKET_SCORERS)
    core = ScorerService(ctx, kv)
    service = await nats.micro.add_service(
        ctx.nc,
        name="spymaster-scorer",
        version="0.1.0",
        description="ServingSpec scoring: VP_GRID -> VP_SCORE",
        stats_handler=lambda ep: {
            "jobs_running": len(core.tasks),
            "bins_scored": core.bins_scored,
            "dead_letters": core.dlq.count,
        },
    )
    await service.add_endpoint(
        name="start", subject=CTL_SCORER_START, handler=micro_json(core.handle_start)
    )
    await service.add_endpoint(
        name="stop", subject=CTL_SCORER_STOP, handler=micro_json(core.handle_stop)
    )
    await service.add_endpoint(
        name="list", subject=CTL_SCORER_LIST, handler=micro_json(core.handle_list)
    )
    for job in await core.jobs():
        if job.state == "running":
            core.spawn(job)
    ctx.ready.set()
    await ctx.stopping.wait()
    await service.stop()
    for task in list(core.tasks.values()):
        task.cancel()
    await asyncio.gather(*core.tasks.values(), return_exceptions=True)


def main() -> None:
    run_service("scorer", serve)
