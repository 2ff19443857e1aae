"""The gateway's FastAPI app: the WebSocket stream, REST (health, sessions, experiments) and
the built frontend. The client protocol is ``docs/protocol.md``; its pure parts live in
:mod:`spymaster_gateway.protocol`, the shared per-session fan-out in :mod:`.feeds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import nats.errors
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from spymaster_gateway.feeds import FeedRegistry
from spymaster_gateway.protocol import (
    DEFAULT_PIPELINE,
    ProtocolError,
    close_reason,
    parse_stream_params,
    runtime_config,
    session_spec,
    to_text,
)
from spymaster_gateway.settings import GatewaySettings
from spymaster_shared.bus.connect import connect
from spymaster_shared.bus.framing import decode_json, encode_json
from spymaster_shared.bus.messages import (
    ScorerReply,
    ScorerStartRequest,
    SessionList,
    SessionReply,
    StartSessionRequest,
)
from spymaster_shared.bus.subjects import CTL_REPLAY_LIST, CTL_REPLAY_START, CTL_SCORER_START
from spymaster_shared.config.pipeline import load_pipeline
from spymaster_shared.config.runtime import resolve_engine_config
from spymaster_shared.config.serving_registry import resolve_serving_ref
from spymaster_shared.errors import ConfigError, SpymasterError

log = logging.getLogger("spymaster.gateway")


def _token_ok(settings: GatewaySettings, presented: str | None) -> bool:
    if not settings.token:
        return True
    return presented is not None and hmac.compare_digest(
        presented.encode(), settings.token.encode()
    )


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    s = settings or GatewaySettings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(name="gateway")
        app.state.nc = nc
        app.state.feeds = FeedRegistry(nc.jetstream(timeout=10), s.history_bins, s.queue_bins)
        app.state.viewers = 0
        app.state.started = time.time()
        gc.collect()  # start-up objects out of the cyclic GC's reach: no long pauses later
        gc.freeze()
        try:
            yield
        finally:
            for feed in list(app.state.feeds.feeds.values()):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(feed.stop(), 3)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.drain(), 3)

    app = FastAPI(title="Spymaster gateway", version="0.1.0", lifespan=lifespan)
    app.state.settings = s
    app.add_middleware(
        CORSMiddleware,
        allow_origins=s.origins(),
        allow_methods=["GET"],
        allow_headers=["Authorization"],
    )

    async def require_token(request: Request) -> None:
        if not _token_ok(s, _bearer(request.headers.get("authorization"))):
            raise HTTPException(401, "missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        nc = request.app.state.nc
        ok = nc.is_connected
        body = {
            "status": "ok" if ok else "degraded",
            "nats": "connected" if ok else "disconnected",
            "viewers": request.app.state.viewers,
            "feeds": len(request.app.state.feeds.feeds),
            "uptime_s": round(time.time() - request.app.state.started, 1),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/v1/sessions", dependencies=[Depends(require_token)])
    async def sessions(request: Request) -> dict[str, Any]:
        try:
            msg = await request.app.state.nc.request(CTL_REPLAY_LIST, b"", timeout=5)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            raise HTTPException(503, "replay service unavailable") from None
        listed = decode_json(msg.data, SessionList)
        out = []
        for info in listed.sessions:
            cap = info.pipeline.get("capture", {})
            out.append({
                "session_id": info.session_id,
                "pipeline_name": info.pipeline_name,
                "product_type": cap.get("product_type"),
                "symbol": cap.get("symbol"),
                "dt": cap.get("dt"),
                "start_time": cap.get("start_time"),
                "end_time": cap.get("end_time"),
                "speed": info.speed,
                "state": info.state,
                "message": info.message,
                "progress": info.progress,
                "n_bins": info.n_bins,
                "records_published": info.records_published,
            })  # fmt: skip
        return {"sessions": out, "feeds": request.app.state.feeds.describe()}

    try:
        from spymaster_gateway.experiments_api import router as experiments_router
    except ImportError as exc:  # built by another member; the stream works without it
        log.warning("experiments API unavailable: %s", exc)
    else:
        app.include_router(experiments_router, dependencies=[Depends(require_token)])

    @app.websocket("/v1/vacuum-pressure/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        origin = ws.headers.get("origin")
        if origin and origin not in s.origins():
            await ws.close(1008, close_reason(f"origin {origin} not allowed"))
            return
        token = _bearer(ws.headers.get("authorization")) or ws.query_params.get("token")
        if not _token_ok(s, token):
            await ws.close(1008, "unauthorized: missing or wrong token")
            return
        if ws.app.state.viewers >= s.max_viewers:
            await ws.close(1013, "too many viewers; try again later")
            return
        try:
            prepared = await _prepare(ws.app, s, list(ws.query_params.multi_items()))
        except ProtocolError as exc:
            await ws.close(exc.code, close_reason(str(exc)))
            return
        await _serve_viewer(ws, prepared)

    dist = s.frontend_dist
    if dist is not None and dist.is_dir():
        app.mount("/", StaticFiles(directory=dist, html=True), name="frontend")
    return app


async def _prepare(app: FastAPI, s: GatewaySettings, query: list[tuple[str, str]]) -> dict:
    """Validate the request, start or join the session (and its scorer): runtime_config."""
    params = parse_stream_params(query)
    resolved = None
    try:
        if params.serving:
            resolved = resolve_serving_ref(params.serving)
        base_name = params.pipeline or (resolved.pipeline.name if resolved else DEFAULT_PIPELINE)
        if resolved is not None:
            if params.pipeline and params.pipeline != resolved.pipeline.name:
                raise ProtocolError(
                    f"serving {params.serving!r} scores pipeline {resolved.pipeline.name!r}",
                    param="pipeline",
                )
            base = resolved.pipeline
        else:
            base = load_pipeline(base_name)
    except ConfigError as exc:
        param = "serving" if params.serving and resolved is None else "pipeline"
        raise ProtocolError(str(exc).split("configs/")[-1], param=param) from None
    spec = session_spec(base, params)
    try:
        cfg = resolve_engine_config(spec)
    except SpymasterError as exc:
        raise ProtocolError(str(exc), param="symbol") from None
    nc = app.state.nc
    req = StartSessionRequest(pipeline=spec.model_dump(mode="json"), speed=params.speed)
    reply = decode_json(await _request(nc, CTL_REPLAY_START, encode_json(req), s), SessionReply)
    if not reply.ok or reply.session_id is None:
        raise ProtocolError(reply.error or "session refused")
    session_id = reply.session_id
    version = None
    serving_block = None
    horizons = None
    if resolved is not None:
        version = resolved.version
        sreq = ScorerStartRequest(
            session_id, version, resolved.serving.model_dump(mode="json"),
            spec.model_dump(mode="json"),
        )  # fmt: skip
        sreply = decode_json(await _request(nc, CTL_SCORER_START, encode_json(sreq), s),
                             ScorerReply)  # fmt: skip
        if not sreply.ok:
            raise ProtocolError(sreply.error or "scorer refused", param="serving")
        serving_block = {**resolved.serving.runtime_block(), "version": version}
        horizons = list(resolved.serving.projection.horizons_ms)
    speed = reply.session.speed if reply.session is not None else params.speed
    return {
        "session_id": session_id,
        "version": version,
        "horizons": horizons,
        "n_bins": cfg.n_bins,
        "runtime_config": runtime_config(session_id, spec, cfg, speed, serving_block),
    }


async def _request(nc: Any, subj: str, payload: bytes, s: GatewaySettings) -> bytes:
    deadline = time.monotonic() + s.request_timeout_s
    while True:
        try:
            msg = await nc.request(subj, payload, timeout=max(1.0, deadline - time.monotonic()))
            return msg.data
        except nats.errors.NoRespondersError:
            if time.monotonic() > deadline - 1:  # a service may still be starting: retry
                raise ProtocolError(f"no service answers {subj}", code=1011) from None
            await asyncio.sleep(0.5)
        except nats.errors.TimeoutError:
            raise ProtocolError(f"timeout waiting for {subj}", code=1011) from None


async def _serve_viewer(ws: WebSocket, prepared: dict) -> None:
    app = ws.app
    feeds: FeedRegistry = app.state.feeds
    await ws.send_text(to_text(prepared["runtime_config"]))
    feed, queue = feeds.join(
        prepared["session_id"], prepared["version"], prepared["horizons"], prepared["n_bins"]
    )
    app.state.viewers += 1
    reader = asyncio.create_task(_drain_client(ws))
    sent = 0
    try:
        while not reader.done():  # until the client leaves (or misbehaves)
            # queued bins go out back to back (a send waits only while the socket's buffer
            # is full); an empty queue is waited on together with the client's leaving
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                getter = asyncio.create_task(queue.get())
                await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                item = getter.result()
            if item is None:
                log.info("viewer of %s: feed ended after %d bins (feed ended=%s)",
                         feed.session_id, sent, feed.ended)  # fmt: skip
                await ws.close(1000, "session ended")
                return
            await ws.send_text(item[0])
            if len(item) > 1:
                await ws.send_bytes(item[1])
                sent += 1
        log.info("viewer of %s left after %d bins", feed.session_id, sent)
    except (WebSocketDisconnect, RuntimeError, OSError) as exc:
        log.info("viewer of %s gone after %d bins: %r", feed.session_id, sent, exc)
        return
    finally:
        app.state.viewers -= 1
        reader.cancel()
        await feeds.leave(feed, queue)


async def _drain_client(ws: WebSocket) -> None:
    """Read and ignore what the client sends (it has nothing to say); return when it leaves."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
