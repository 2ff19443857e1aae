"""``spymaster-gateway``: serve the gateway app with uvicorn (127.0.0.1:8002 by default)."""

from __future__ import annotations

import argparse

import uvicorn

from spymaster_gateway.app import create_app
from spymaster_gateway.settings import GatewaySettings
from spymaster_shared.bus.runtime import setup_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="spymaster-gateway", description=__doc__)
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8002)")
    args = parser.parse_args(argv)
    setup_logging()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = GatewaySettings.from_env(**overrides)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_ws_message_bytes,
        h11_max_incomplete_event_size=64 * 1024,
        log_level="warning",
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # frames are float columns that barely compress; deflating them per viewer would
        # cost more CPU than everything else the gateway does
        ws_per_message_deflate=False,
        # open WebSockets never end on their own: on SIGTERM give them 2 s, then close
        timeout_graceful_shutdown=2,
    )
