"""NATS connection settings from the environment, with credentials, and ``connect``.

``NATS_URL`` (default ``nats://127.0.0.1:4222``), ``NATS_USER`` + ``NATS_PASSWORD``,
``NATS_TOKEN``, ``NATS_CREDS`` (a ``.creds`` file). Passwords never appear in logs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NatsSettings:
    url: str = "nats://127.0.0.1:4222"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds: str | None = None

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> NatsSettings:
        e = os.environ if env is None else env
        return NatsSettings(
            url=e.get("NATS_URL") or "nats://127.0.0.1:4222",
            user=e.get("NATS_USER") or None,
            password=e.get("NATS_PASSWORD") or None,
            token=e.get("NATS_TOKEN") or None,
            creds=e.get("NATS_CREDS") or None,
        )

    def connect_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"servers": [u.strip() for u in self.url.split(",") if u.strip()]}
        if self.user:
            opts["user"] = self.user
            opts["password"] = self.password or ""
        if self.token:
            opts["token"] = self.token
        if self.creds:
            opts["user_credentials"] = self.creds
        return opts

    def env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings in a child process."""
        out = {"NATS_URL": self.url}
        for key, value in (
            ("NATS_USER", self.user),
            ("NATS_PASSWORD", self.password),
            ("NATS_TOKEN", self.token),
            ("NATS_CREDS", self.creds),
        ):
            if value:
                out[key] = value
        return out


async def connect(
    settings: NatsSettings | None = None, *, name: str = "spymaster", **extra: Any
) -> Client:
    """Connect with reconnects forever (a NATS restart is survived), logging state changes."""
    s = settings or NatsSettings.from_env()

    async def on_error(exc: Exception) -> None:
        log.warning("nats %s: %s", name, exc)

    async def on_disconnect() -> None:
        log.warning("nats %s: disconnected", name)

    async def on_reconnect() -> None:
        log.info("nats %s: reconnected", name)

    opts: dict[str, Any] = {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "error_cb": on_error,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
        # No buffering while disconnected: a publish then fails at once instead of being
        # flushed after the reconnect, behind messages the dead socket lost (a hole in a
        # stream). Services resume from what the stream holds.
        "pending_size": 0,
        **s.connect_options(),
        **extra,
    }
    return await nats.connect(**opts)
