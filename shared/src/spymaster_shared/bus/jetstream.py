"""Small JetStream helpers shared by the service shells: last message of a subject, DLQ."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from spymaster_shared.bus.framing import decode_frame
from spymaster_shared.bus.messages import DeadLetter
from spymaster_shared.bus.subjects import subject

log = logging.getLogger(__name__)

CONSUMER_CHECK_S = 2.0


async def last_frame(js: JetStreamContext, stream: str, subj: str) -> tuple[Any, int] | None:
    """(header, stream_seq) of the last message on ``subj``, or None when there is none.

    A malformed last message raises :class:`BusError`.
    """
    try:
        raw = await js.get_last_msg(stream, subj)
    except NotFoundError:
        return None
    header, _ = decode_frame(raw.data or b"")
    return header, int(raw.seq or 0)


class DeadLetters:
    """Counts, logs and parks refused payloads on ``vp.dlq.<service>``; never raises."""

    def __init__(self, nc: Client, service: str) -> None:
        self._nc = nc
        self.service = service
        self.subject = subject("dlq", service)
        self.count = 0
        self.last_error = ""
        self._last_log = 0.0

    async def park(
        self, subj: str, payload: bytes, error: Exception | str, stream_seq: int | None = None
    ) -> None:
        self.count += 1
        self.last_error = str(error)
        now = time.monotonic()
        if now - self._last_log > 1.0:  # bounded logging under a flood of garbage
            log.warning(
                "%s: refused payload on %s (%d so far): %s", self.service, subj, self.count, error
            )
            self._last_log = now
        letter = DeadLetter(
            service=self.service,
            subject=subj,
            error=str(error)[:1000],
            stream_seq=stream_seq,
            payload=bytes(payload[:1_000_000]),
        )
        try:
            await self._nc.publish(self.subject, msgspec.msgpack.encode(letter))
        except Exception as exc:  # the DLQ must never take the service down
            log.error("%s: could not park payload on %s: %s", self.service, self.subject, exc)


async def pull_messages(
    psub: Any, *, batch: int = 256, expires: float = 2.0, idle: float | None = None
) -> AsyncIterator[Msg | None]:
    """Messages of a pull subscription as soon as each arrives (``fetch`` waits to fill its
    batch, which adds up to its timeout of latency when messages trickle in at speed=1).

    Keeps one pull request of ``batch`` messages outstanding, renewed when half used or
    expired; status messages (no messages, request timeout, heartbeat) are swallowed.
    With ``idle``, yields None after ``idle`` seconds without a message (a tick for
    periodic work). Raises ``nats.errors`` on connection problems.
    """
    nc, sub = psub._nc, psub._sub
    outstanding = 0
    renew_at = 0.0
    checked_at = time.monotonic()
    request = json.dumps({"batch": batch, "expires": int(expires * 1e9)}).encode()
    while True:
        now = time.monotonic()
        if outstanding <= batch // 2 or now >= renew_at:
            await nc.publish(psub._nms, request, reply=psub._deliver)
            outstanding += batch
            renew_at = now + expires * 0.9
        wait = max(0.05, renew_at - time.monotonic())
        try:
            msg = await sub.next_msg(timeout=min(wait, idle) if idle else wait)
        except TimeoutError:
            now = time.monotonic()
            if now >= renew_at:
                outstanding = 0
            if now - checked_at > CONSUMER_CHECK_S:
                # a restarted server forgets ephemeral consumers without telling the client
                checked_at = now
                await psub.consumer_info()  # NotFoundError -> the caller re-creates it
            if idle:
                yield None
            continue
        if msg.headers and msg.headers.get("Status"):
            status = msg.headers.get("Status")
            if status in ("404", "408", "409"):
                outstanding = 0
            continue
        outstanding -= 1
        checked_at = time.monotonic()
        yield msg


async def follow_subject(
    js: JetStreamContext,
    stream: str,
    subj: str,
    *,
    start_seq: int = 1,
    batch: int = 64,
    stopping: asyncio.Event | None = None,
) -> AsyncIterator[Msg]:
    """Every message on ``subj`` from stream sequence ``start_seq``, in order, forever.

    An ephemeral pull consumer (no acks); when the server restarts or the consumer vanishes
    it is re-created after the last sequence seen, so nothing is skipped or repeated.
    """
    next_seq = max(1, start_seq)
    while stopping is None or not stopping.is_set():
        try:
            cfg = ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=next_seq,
                filter_subject=subj,
                inactive_threshold=30.0,
                mem_storage=True,
            )
            psub = await js.pull_subscribe(subj, durable=None, stream=stream, config=cfg)
        except Exception as exc:
            log.debug("follow %s: cannot create consumer (%s); retrying", subj, exc)
            await asyncio.sleep(0.5)
            continue
        try:
            async for msg in pull_messages(psub, batch=batch, idle=1.0):
                if stopping is not None and stopping.is_set():
                    return
                if msg is None:
                    continue
                seq = msg.metadata.sequence.stream
                if seq < next_seq:
                    continue
                next_seq = seq + 1
                yield msg
        except (nats.errors.Error, OSError) as exc:
            log.info("follow %s: %s; re-creating the consumer at %d", subj, exc, next_seq)
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _PubAck(msgspec.Struct):
    """JetStream's publish acknowledgement, or its error."""

    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: _ApiError | None = None


_pub_ack = msgspec.json.Decoder(_PubAck)


class PublishRefused(Exception):
    """JetStream answered a publish with an error (stream full, message too large...)."""


class AckedPublisher:
    """JetStream publishes with a de-duplication id, each returning a future of its ack.

    What ``js.publish_async`` does, for less: acks come back on one inbox of the
    publisher's own, keyed by a counter, and are decoded with msgspec (a duplicate is an
    ack too); an error ack fails the future with :class:`PublishRefused` (nats-py's
    ``publish_async`` raises inside its callback on an error ack, so its future never
    resolves). A future that gets no ack (NATS restarting) is left to the caller's timeout;
    pair it with :class:`PublishWindow`.
    """

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._inbox = ""
        self._sub: Any = None
        self._futures: dict[str, asyncio.Future[None]] = {}
        self._n = 0

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        for fut in list(self._futures.values()):
            fut.cancel()
        self._futures.clear()

    async def publish(
        self, subj: str, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> asyncio.Future[None]:
        """Publish with the de-duplication id ``msg_id`` (and any other ``headers``);
        returns the future of its ack."""
        self._n += 1
        token = str(self._n)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures[token] = fut
        fut.add_done_callback(lambda _f: self._futures.pop(token, None))
        hdrs = {"Nats-Msg-Id": msg_id} if headers is None else {**headers, "Nats-Msg-Id": msg_id}
        await self._nc.publish(subj, payload, reply=f"{self._inbox}.{token}", headers=hdrs)
        return fut

    async def _on_ack(self, msg: Msg) -> None:
        fut = self._futures.get(msg.subject[len(self._inbox) + 1 :])
        if fut is None or fut.done():
            return
        if not msg.data:  # a status instead of an ack, e.g. 503: no stream takes the subject
            status = msg.headers.get("Status") if msg.headers else None
            fut.set_exception(PublishRefused(f"no publish ack (status {status})"))
            return
        try:
            ack = _pub_ack.decode(msg.data)
        except msgspec.DecodeError as exc:
            fut.set_exception(PublishRefused(f"malformed publish ack {msg.data[:200]!r}: {exc}"))
            return
        if ack.error is not None:
            err = ack.error
            fut.set_exception(PublishRefused(f"{err.description} (code {err.code}/{err.err_code})"))
        else:
            fut.set_result(None)


class PublishUnacked(Exception):
    """An asynchronous publish was not acknowledged (timeout, NATS gone); the caller resumes
    from what the stream holds."""


class PublishWindow:
    """Asynchronous JetStream publishes in flight, bounded by count *and* bytes.

    The byte bound matters as much as the count: nats-py hands everything queued since its
    last flush to the asyncio transport in one write, and Python 3.11's selector transport
    deletes each sent piece from the front of its buffer (a memmove of the rest), so tens of
    MB in flight cost time quadratic in the backlog (200 x 1 MB in flight: ~4x the client
    CPU of 8 MB in flight, and half the throughput; see docs/running.md, benchmarks).
    """

    def __init__(self, max_msgs: int, max_bytes: int, ack_timeout: float = 10.0) -> None:
        self.max_msgs = max_msgs
        self.max_bytes = max_bytes
        self.ack_timeout = ack_timeout
        self._pending: collections.deque[tuple[Any, asyncio.Future[Any], int]] = collections.deque()
        self._bytes = 0
        self.acked = 0

    def __len__(self) -> int:
        return len(self._pending)

    def futures(self) -> list[asyncio.Future[Any]]:
        """The publishes in flight now (to wait for them later, elsewhere)."""
        return [fut for _, fut, _ in self._pending]

    async def add(self, key: Any, fut: asyncio.Future[Any], nbytes: int) -> None:
        """Track a publish, then wait until the window is within its bounds again."""
        self._pending.append((key, fut, nbytes))
        self._bytes += nbytes
        await self.settle(self.max_msgs, self.max_bytes)

    async def settle(self, max_msgs: int = 0, max_bytes: int = 0) -> None:
        """Wait for acks, oldest first, until at most ``max_msgs`` publishes and
        ``max_bytes`` bytes are in flight (0, 0: all acknowledged). Raises PublishUnacked
        (and forgets every publish in flight) when one fails."""
        while self._pending and (len(self._pending) > max_msgs or self._bytes > max_bytes):
            key, fut, nbytes = self._pending.popleft()
            self._bytes -= nbytes
            try:
                if fut.done():  # the usual case: no timer, no trip through the event loop
                    fut.result()
                else:
                    await asyncio.wait_for(asyncio.shield(fut), self.ack_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                fut.cancel()
                for _, other, _ in self._pending:
                    other.cancel()
                self._pending.clear()
                self._bytes = 0
                raise PublishUnacked(f"{key} not acknowledged: {exc!r}") from exc
            self.acked += 1
