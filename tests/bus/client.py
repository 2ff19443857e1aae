"""A WebSocket viewer for the tests and the benchmark: collects every message of a stream."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa
import websockets


@dataclass
class Received:
    runtime_config: dict[str, Any] | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    n_frames: int = 0
    arrival_ns: list[int] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def cells(self) -> dict[str, np.ndarray]:
        tables = [pa.ipc.open_stream(pa.py_buffer(f)).read_all() for f in self.frames]
        names = tables[0].schema.names
        return {n: np.stack([t.column(n).to_numpy() for t in tables]) for n in names}


def stream_url(port: int, **params: Any) -> str:
    return f"ws://127.0.0.1:{port}/v1/vacuum-pressure/stream?{urlencode(params)}"


async def watch(
    url: str, *, max_bins: int | None = None, headers: Any = None, keep_frames: bool = True
) -> Received:
    """Every message of the stream at ``url``; ``keep_frames=False`` counts the binary
    frames without keeping them (a benchmark's 18,000 frames are 600 MB)."""
    out = Received()
    async with websockets.connect(url, max_size=32 * 1024 * 1024, compression=None,
                                  additional_headers=headers) as ws:  # fmt: skip
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    if keep_frames:
                        out.frames.append(msg)
                    out.n_frames += 1
                    continue
                data = json.loads(msg)
                kind = data.get("type")
                if kind == "runtime_config":
                    out.runtime_config = data
                elif kind == "status":
                    out.statuses.append(data)
                elif kind == "grid_update":
                    out.updates.append(data)
                    out.arrival_ns.append(time.time_ns())
                    if max_bins is not None and len(out.updates) >= max_bins:
                        break
        except websockets.ConnectionClosed:
            pass
    out.close_code = ws.close_code
    out.close_reason = ws.close_reason or ""
    return out
