"""Small JetStream helpers shared by the service shells: last message of a subject, DLQ."""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from spymaster_shared.bus.framing import decode_frame
from spymaster_shared.bus.messages import DeadLetter
from spymaster_shared.bus.subjects import subject

log = logging.getLogger(__name__)


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
