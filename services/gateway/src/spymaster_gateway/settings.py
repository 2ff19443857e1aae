"""Gateway settings from the environment (``SPYMASTER_GATEWAY_*``, ``SPYMASTER_TOKEN``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_REPO = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8002
    token: str | None = field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = ()
    history_bins: int = 300  # recent bins a viewer joining a running session receives
    queue_bins: int = 256  # per-viewer queue; the oldest bins are dropped when it is full
    max_ws_message_bytes: int = 64 * 1024  # from clients (they only send small control text)
    max_viewers: int = 1000
    frontend_dist: Path | None = None
    request_timeout_s: float = 30.0

    @staticmethod
    def from_env(**overrides: object) -> GatewaySettings:
        e = os.environ
        dist = (
            Path(e["SPYMASTER_FRONTEND_DIST"])
            if e.get("SPYMASTER_FRONTEND_DIST")
            else (_REPO / "frontend" / "dist")
        )
        origins = tuple(o.strip() for o in e.get("SPYMASTER_ALLOWED_ORIGINS", "").split(",")
                        if o.strip())  # fmt: skip
        values: dict[str, object] = {
            "host": e.get("SPYMASTER_GATEWAY_HOST", "127.0.0.1"),
            "port": int(e.get("SPYMASTER_GATEWAY_PORT", "8002")),
            "token": e.get("SPYMASTER_TOKEN") or None,
            "allowed_origins": origins,
            "history_bins": int(e.get("SPYMASTER_GATEWAY_HISTORY_BINS", "300")),
            "queue_bins": int(e.get("SPYMASTER_GATEWAY_QUEUE_BINS", "256")),
            "max_viewers": int(e.get("SPYMASTER_GATEWAY_MAX_VIEWERS", "1000")),
            "frontend_dist": dist,
        }
        values.update(overrides)
        return GatewaySettings(**values)  # type: ignore[arg-type]

    def origins(self) -> list[str]:
        """CORS / WebSocket origins: the gateway's own, plus ``SPYMASTER_ALLOWED_ORIGINS``."""
        own = {f"http://{self.host}:{self.port}", f"http://127.0.0.1:{self.port}",
               f"http://localhost:{self.port}"}  # fmt: skip
        return sorted(own | set(self.allowed_origins))
