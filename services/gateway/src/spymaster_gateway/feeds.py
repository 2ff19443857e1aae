"""Feeds: one per (session, serving version) per gateway process, shared by its viewers.

A feed follows ``vp.grid.<session>`` (and ``vp.score.<session>.<version>``), merges them by
bin, encodes each bin once (``grid_update`` text + Arrow frame) and puts it in every viewer's
:class:`LatestQueue`. It keeps the last ``history_bins`` bins so a viewer who joins a running
session sees the recent past before the live bins.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nats.js import JetStreamContext

from spymaster_gateway.protocol import BinMerger, LatestQueue, grid_update, status, to_text
from spymaster_shared.bus.arrow_frames import decode_ipc, encode_ipc, with_scores
from spymaster_shared.bus.framing import decode_frame, decode_json
from spymaster_shared.bus.jetstream import follow_subject
from spymaster_shared.bus.messages import GridBin, ScoreBin, SessionInfo, StreamEnd
from spymaster_shared.bus.streams import BUCKET_SESSIONS, STREAM_GRID, STREAM_SCORE
from spymaster_shared.bus.subjects import subject
from spymaster_shared.errors import BusError

log = logging.getLogger("spymaster.gateway")

Item = tuple[str, ...] | tuple[str, bytes]


@dataclass
class Feed:
    js: JetStreamContext
    session_id: str
    serving_version: str | None
    horizons_ms: list[int] | None
    n_bins: int
    history_bins: int = 300
    queue_bins: int = 256
    clients: set[LatestQueue] = field(default_factory=set)
    history: collections.deque[Item] = field(default_factory=collections.deque)
    bins_sent: int = 0
    ended: bool = False
    last_status: Item | None = None
    dead_letters: int = 0
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.history = collections.deque(maxlen=self.history_bins)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.session_id, self.serving_version)

    # ---------------------------------------------------------------- viewers

    def attach(self) -> LatestQueue:
        q = LatestQueue(self.queue_bins)
        for item in self.history:
            q.put(item)
        if self.last_status is not None and not self.history:
            q.put(self.last_status)
        if self.ended:
            q.put((to_text(status("ended", "session complete", 1.0)),))
            q.close()
        self.clients.add(q)
        return q

    def detach(self, q: LatestQueue) -> None:
        self.clients.discard(q)

    def _broadcast(self, item: Item, keep: bool = True) -> None:
        if keep:
            self.history.append(item)
        for q in list(self.clients):
            q.put(item)

    def _status(self, state: str, message: str = "", progress: float | None = None) -> None:
        item = (to_text(status(state, message, progress)),)
        self.last_status = item
        self._broadcast(item, keep=False)

    # ---------------------------------------------------------------- running

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name=f"feed-{self.session_id}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for q in list(self.clients):
            q.close()

    async def _run(self) -> None:
        self._status("starting", "session starting")
        watcher = asyncio.create_task(self._watch_session())
        try:
            await self._merge()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("feed %s failed", self.session_id)
            self._status("error", f"feed failed: {exc}")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            self.ended = True
            for q in list(self.clients):
                q.close()

    async def _watch_session(self) -> None:
        """Warmup progress from the session registry until the first bin arrives."""
        kv = await self.js.key_value(BUCKET_SESSIONS)
        while self.bins_sent == 0:
            with contextlib.suppress(Exception):
                entry = await kv.get(self.session_id)
                info = decode_json(entry.value or b"", SessionInfo)
                if info.state == "failed":
                    self._status("error", info.message or "session failed")
                elif info.state in ("starting", "warmup"):
                    self._status("warmup", "book warmup", info.progress)
            await asyncio.sleep(0.5)

    async def _merge(self) -> None:
        merger = BinMerger(scored=self.serving_version is not None)
        inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=4096)
        ends = {"grid": False, "score": self.serving_version is None}

        async def pump(kind: str, stream: str, subj: str) -> None:
            async for msg in follow_subject(self.js, stream, subj):
                await inbox.put((kind, msg))

        self._tasks.append(
            asyncio.create_task(pump("grid", STREAM_GRID, subject("grid", self.session_id)))
        )
        if self.serving_version is not None:
            self._tasks.append(
                asyncio.create_task(
                    pump(
                        "score",
                        STREAM_SCORE,
                        subject("score", self.session_id, self.serving_version),
                    )
                )
            )
        end_reason = "complete"
        while not all(ends.values()):
            kind, msg = await inbox.get()
            try:
                header, body = decode_frame(msg.data)
                if isinstance(header, StreamEnd):
                    ends[kind] = True
                    end_reason = header.reason
                    log.info("feed %s: %s end (%s, %d) after %d bins sent", self.session_id,
                             kind, header.reason, header.count, self.bins_sent)  # fmt: skip
                    continue
                if kind == "grid" and isinstance(header, GridBin):
                    ready = merger.add_grid(header, bytes(body))
                elif kind == "score" and isinstance(header, ScoreBin):
                    ready = merger.add_score(header, bytes(body))
                else:
                    raise BusError(f"unexpected {type(header).__name__} on {msg.subject}")
            except BusError as exc:
                self.dead_letters += 1
                log.warning("feed %s: dropped a malformed message: %s", self.session_id, exc)
                continue
            for grid, grid_body, score, score_body in ready:
                self._broadcast(self._encode(grid, grid_body, score, score_body))
                self.bins_sent += 1
                if self.bins_sent == 1:
                    self._status("streaming", "streaming", None)
        self._status("ended", f"session {end_reason}", 1.0)

    def _encode(self, grid: GridBin, grid_body: bytes, score: Any, score_body: Any) -> Item:
        text = to_text(grid_update(grid, score, self.horizons_ms))
        if score is None:
            return (text, grid_body)
        n = score.n_cells
        flow = np.frombuffer(score_body, dtype="<f8", count=n)
        state = np.frombuffer(score_body, dtype="i1", count=n, offset=8 * n)
        batch = with_scores(decode_ipc(grid_body), flow, state, score.signal_score)
        return (text, encode_ipc(batch))


class FeedRegistry:
    def __init__(self, js: JetStreamContext, history_bins: int, queue_bins: int) -> None:
        self.js = js
        self.history_bins = history_bins
        self.queue_bins = queue_bins
        self.feeds: dict[tuple[str, str | None], Feed] = {}

    def join(
        self, session_id: str, version: str | None, horizons: list[int] | None, n_bins: int
    ) -> tuple[Feed, LatestQueue]:
        key = (session_id, version)
        feed = self.feeds.get(key)
        if feed is None or (feed.ended and not feed.clients):
            feed = Feed(
                self.js,
                session_id,
                version,
                horizons,
                n_bins,
                history_bins=self.history_bins,
                queue_bins=self.queue_bins,
            )
            self.feeds[key] = feed
            queue = feed.attach()
            feed.start()
            return feed, queue
        return feed, feed.attach()

    async def leave(self, feed: Feed, queue: LatestQueue) -> None:
        feed.detach(queue)
        if not feed.clients:
            # the last viewer left: stop following (a later viewer re-reads the streams)
            self.feeds.pop(feed.key, None)
            await feed.stop()

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "session_id": f.session_id,
                "serving_version": f.serving_version,
                "viewers": len(f.clients),
                "bins_sent": f.bins_sent,
                "ended": f.ended,
                "dropped_frames": sum(q.dropped for q in f.clients),
            }
            for f in self.feeds.values()
        ]
