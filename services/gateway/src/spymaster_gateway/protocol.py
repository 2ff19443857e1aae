"""Pure core of the gateway's client protocol (``docs/protocol.md``): query parameters, the
``runtime_config`` / ``grid_update`` / ``status`` messages, merging grids with scores by bin,
and the bounded per-client queue. No I/O here.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from spymaster_shared.bus.messages import GridBin, ScoreBin
from spymaster_shared.config.pipeline import PipelineSpec
from spymaster_shared.config.runtime import EngineConfig
from spymaster_shared.errors import ConfigError, SpymasterError
from spymaster_shared.grid_schema import BIN_NAMES, FRAME_SCHEMA
from spymaster_shared.names import check_name, check_product_type, check_symbol

DEFAULT_PIPELINE = "mnq_60m_baseline"
QUERY_PARAMS = (
    "product_type", "symbol", "dt", "start_time", "speed", "pipeline", "serving", "token",
)  # fmt: skip
REQUIRED_PARAMS = ("product_type", "symbol", "dt", "start_time")
MAX_SPEED = 1000.0
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: control frame payload 125 bytes, 2 for the code


class ProtocolError(SpymasterError):
    """A client request the gateway refuses; ``param`` names the culprit when there is one."""

    def __init__(self, message: str, param: str | None = None, code: int = 1008):
        self.param = param
        self.code = code
        super().__init__(f"{param}: {message}" if param else message)


def close_reason(text: str) -> str:
    """A close reason that fits a WebSocket control frame (UTF-8 safe truncation)."""
    raw = text.encode()
    if len(raw) <= MAX_CLOSE_REASON_BYTES:
        return text
    return raw[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


@dataclass(frozen=True)
class StreamParams:
    product_type: str
    symbol: str
    dt: str
    start_time: str
    speed: float = 1.0
    pipeline: str | None = None
    serving: str | None = None


def parse_stream_params(query: Mapping[str, str] | list[tuple[str, str]]) -> StreamParams:
    """Validate the WebSocket query string: unknown, repeated, missing or malformed parameters
    raise ProtocolError naming the parameter."""
    items = list(query.items()) if isinstance(query, Mapping) else list(query)
    seen: dict[str, str] = {}
    for key, value in items:
        if key not in QUERY_PARAMS:
            raise ProtocolError(f"unknown query parameter (allowed: {', '.join(QUERY_PARAMS)})",
                                param=key[:40])  # fmt: skip
        if key in seen:
            raise ProtocolError("given more than once", param=key)
        if len(value) > 128:
            raise ProtocolError("too long", param=key)
        seen[key] = value
    for key in REQUIRED_PARAMS:
        if not seen.get(key):
            raise ProtocolError("required", param=key)
    try:
        check_product_type(seen["product_type"])
        check_symbol(seen["symbol"])
        for key in ("pipeline", "serving"):
            if seen.get(key):
                check_name(seen[key], key)
    except ConfigError as exc:
        raise ProtocolError(str(exc).split(": ", 1)[-1], param=exc.field) from None
    speed = 1.0
    if "speed" in seen:
        try:
            speed = float(seen["speed"])
        except ValueError:
            raise ProtocolError(f"{seen['speed']!r} is not a number", param="speed") from None
        if not math.isfinite(speed) or not 0 <= speed <= MAX_SPEED:
            raise ProtocolError(f"must be in [0, {MAX_SPEED:g}] (0 = as fast as possible)",
                                param="speed")  # fmt: skip
    return StreamParams(
        product_type=seen["product_type"],
        symbol=seen["symbol"],
        dt=seen["dt"],
        start_time=seen["start_time"],
        speed=speed,
        pipeline=seen.get("pipeline") or None,
        serving=seen.get("serving") or None,
    )


def session_spec(base: PipelineSpec, params: StreamParams) -> PipelineSpec:
    """The pipeline's capture with the client's instrument, date and start; the duration is
    the pipeline's. Errors name the parameter."""
    from spymaster_shared.config.pipeline import _parse_clock

    cap = base.capture
    try:
        start = _parse_clock(params.start_time, "start_time")
    except ValueError as exc:
        raise ProtocolError(str(exc), param="start_time") from None
    duration = (
        cap.end_clock.hour * 3600 + cap.end_clock.minute * 60 + cap.end_clock.second
        - (cap.start_clock.hour * 3600 + cap.start_clock.minute * 60 + cap.start_clock.second)
    )  # fmt: skip
    end_s = start.hour * 3600 + start.minute * 60 + start.second + duration
    if end_s >= 24 * 3600:
        raise ProtocolError("window would run past midnight", param="start_time")
    end = f"{end_s // 3600:02d}:{end_s % 3600 // 60:02d}:{end_s % 60:02d}"
    try:
        return base.with_capture(
            product_type=params.product_type,
            symbol=params.symbol,
            dt=params.dt,
            start_time=params.start_time,
            end_time=end,
        )
    except Exception as exc:  # pydantic ValidationError: name the first bad capture field
        errors = getattr(exc, "errors", None)
        if errors:
            first = errors()[0]
            loc = [str(p) for p in first["loc"] if p != "capture"]
            raise ProtocolError(first["msg"], param=loc[-1] if loc else None) from None
        raise ProtocolError(str(exc)) from None


def runtime_config(
    session_id: str,
    spec: PipelineSpec,
    cfg: EngineConfig,
    speed: float,
    serving: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "type": "runtime_config",
        "session_id": session_id,
        "product_type": cfg.product_type,
        "symbol": cfg.symbol,
        "dt": cfg.dt,
        "start_time": cfg.start_time,
        "end_time": cfg.end_time,
        "tick_size": cfg.tick_size,
        "bucket_size_dollars": cfg.bucket_size_dollars,
        "grid_radius_ticks": cfg.grid_radius_ticks,
        "n_rows": cfg.n_grid_rows,
        "cell_width_ms": cfg.cell_width_ms,
        "speed": speed,
        "pipeline_name": spec.name,
        "pipeline": cfg.hashed_params(),
        "columns": list(FRAME_SCHEMA.names),
        "serving": dict(serving) if serving is not None else None,
    }


def status(state: str, message: str = "", progress: float | None = None) -> dict[str, Any]:
    return {"type": "status", "state": state, "message": message, "progress": progress}


def grid_update(grid: GridBin, score: ScoreBin | None, horizons_ms: list[int] | None) -> dict:
    out: dict[str, Any] = {"type": "grid_update"}
    out.update({n: getattr(grid.bin, n) for n in BIN_NAMES})
    out["signal_score"] = score.signal_score if score else None
    out["projection"] = (
        {"horizons_ms": horizons_ms, "values": score.projection}
        if score is not None and score.projection is not None
        else None
    )
    out["score_ready"] = bool(score.score_ready) if score else False
    out["source_pub_wall_ns"] = grid.source_pub_wall_ns  # for latency measurements
    return out


_json = msgspec.json.Encoder()


def to_text(message: Mapping[str, Any]) -> str:
    """JSON text; non-finite floats become null."""
    return _json.encode(message).decode()


@dataclass
class BinMerger:
    """Pairs grid and score messages by bin_seq, releasing bins in order.

    Without a ServingSpec (``scored=False``) every grid is released at once.
    """

    scored: bool
    grids: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    scores: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    next_bin: int = 0

    def add_grid(self, header: GridBin, body: Any) -> list[tuple[Any, Any, Any, Any]]:
        if header.bin_seq >= self.next_bin:
            self.grids[header.bin_seq] = (header, body)
        return self._release()

    def add_score(self, header: ScoreBin, body: Any) -> list[tuple[Any, Any, Any, Any]]:
        if header.bin_seq >= self.next_bin:
            self.scores[header.bin_seq] = (header, body)
        return self._release()

    def _release(self) -> list[tuple[Any, Any, Any, Any]]:
        out = []
        while self.next_bin in self.grids and (not self.scored or self.next_bin in self.scores):
            g = self.grids.pop(self.next_bin)
            s = self.scores.pop(self.next_bin) if self.scored else (None, None)
            out.append((g[0], g[1], s[0], s[1]))
            self.next_bin += 1
        return out


class LatestQueue:
    """A bounded per-client queue that keeps the latest items: when full, the oldest is
    dropped (a slow client loses frames, never slows the others). Single consumer."""

    def __init__(self, maxlen: int) -> None:
        self._items: collections.deque[Any] = collections.deque(maxlen=maxlen)
        self._event = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, item: Any) -> None:
        if self.closed:
            return
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._event.set()

    def get_nowait(self) -> Any | None:
        """The next item; None once closed and drained; ``asyncio.QueueEmpty`` if there is
        none yet."""
        if self._items:
            return self._items.popleft()
        if self.closed:
            return None
        raise asyncio.QueueEmpty

    async def get(self) -> Any | None:
        """The next item; None once closed and drained."""
        while not self._items:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)
