"""A stand-in gateway for frontend development and the deterministic browser test.

Serves ``frontend/dist`` at ``/``, the real experiments router, and a WebSocket at
``/v1/vacuum-pressure/stream`` that speaks the gateway protocol (docs/protocol.md) with
synthetic bins (random-walk spot, depth ladder, noisy masses) at exactly ``bins_per_second``.
Frames use ``grid_schema.FRAME_SCHEMA``, so a schema change breaks this too.

    uv run python tests/frontend/fake_gateway.py --port 8765 --bins-per-second 10
"""

from __future__ import annotations

import argparse
import asyncio
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.staticfiles import StaticFiles

from spymaster_gateway.experiments_api import router as experiments_router
from spymaster_shared.grid_schema import FRAME_SCHEMA

DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"
ALLOWED = {"product_type", "symbol", "dt", "start_time", "speed", "pipeline", "serving", "token"}
RADIUS = 50
BUCKET_INT = 250_000_000  # $0.25 in 1e-9 units
START_NS = 1_770_388_200_000_000_000  # 2026-02-06 14:30 UTC = 09:30 ET
HORIZONS = [250, 500, 1000, 2500]


def synthetic_frame(rng: np.random.Generator, seq: int, serving: bool) -> pa.RecordBatch:
    n = 2 * RADIUS + 1
    k = np.arange(-RADIUS, RADIUS + 1, dtype=np.int32)
    cols: dict[str, np.ndarray] = {}
    for field in FRAME_SCHEMA:
        dtype = field.type.to_pandas_dtype()
        cols[field.name] = np.zeros(n, dtype=dtype)
    cols["k"] = k
    depth = 20 + 8 * np.abs(k) + rng.gamma(2.0, 6.0, n)
    depth[k == 0] = 0
    cols["bid_depth"] = np.where(k < 0, depth, 0.0)
    cols["ask_depth"] = np.where(k > 0, depth, 0.0)
    cols["rest_depth"] = depth
    near = np.exp(-np.abs(k) / 8.0)
    for name in ("add_mass", "pull_mass", "fill_mass"):
        cols[name] = rng.gamma(1.5, 4.0, n) * near
    cols["fill_mass"] *= np.abs(k) <= 2
    wave = math.sin(seq / 40.0)
    cols["pressure_variant"] = cols["add_mass"] * (1 + 0.5 * wave)
    cols["vacuum_variant"] = cols["pull_mass"] * (1 - 0.5 * wave)
    cols["composite"] = cols["pressure_variant"] - cols["vacuum_variant"]
    for d in ("composite_d1", "composite_d2", "composite_d3", "v_add", "v_pull", "v_rest_depth"):
        cols[d] = rng.normal(0, 1, n) * near
    cols["state5_code"] = rng.integers(-2, 3, n).astype(np.int8)
    if serving:
        cols["flow_score"] = np.tanh(rng.normal(wave, 0.5, n))
        cols["flow_state_code"] = np.sign(cols["flow_score"]).astype(np.int8)
        cols["signal_score"] = np.full(n, 0.6 * wave)
    else:
        cols["flow_score"] = np.full(n, np.nan)
        cols["flow_state_code"] = np.full(n, -1, dtype=np.int8)
        cols["signal_score"] = np.full(n, np.nan)
    arrays = [pa.array(cols[f.name], type=f.type) for f in FRAME_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=FRAME_SCHEMA)


def ipc_bytes(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def create_app(
    bins_per_second: float, results_root: Path | None = None, max_bins: int = 0
) -> FastAPI:
    app = FastAPI()
    app.state.results_root = results_root
    app.include_router(experiments_router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.websocket("/v1/vacuum-pressure/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        unknown = sorted(set(ws.query_params) - ALLOWED)
        if unknown:
            await ws.close(code=4400, reason=f"unknown parameter {unknown[0]!r}")
            return
        serving = ws.query_params.get("serving")
        rng = np.random.default_rng(7)
        await ws.send_json(
            {
                "type": "runtime_config",
                "session_id": "fake-session",
                "product_type": ws.query_params.get("product_type", "future_mbo"),
                "symbol": ws.query_params.get("symbol", "MNQH6"),
                "dt": ws.query_params.get("dt", "2026-02-06"),
                "start_time": ws.query_params.get("start_time", "09:25"),
                "end_time": "10:25",
                "tick_size": 0.25,
                "bucket_size_dollars": 0.25,
                "grid_radius_ticks": RADIUS,
                "n_rows": 2 * RADIUS + 1,
                "cell_width_ms": 100,
                "speed": float(ws.query_params.get("speed", "1")),
                "pipeline_name": ws.query_params.get("pipeline", "mnq_60m_baseline"),
                "pipeline": {
                    "tau_velocity": 2.0,
                    "c1_v_add": 1.0,
                    "spectrum_windows": [5, 10, 20, 40],
                },
                "columns": [f.name for f in FRAME_SCHEMA],
                "serving": None
                if not serving
                else {
                    "serving_name": serving,
                    "version": "v000000000000",
                    "scoring": {"zscore_window_bins": 300, "tanh_scale": 3.0},
                    "signal_config": {
                        "name": "ads_pfp_svac",
                        "params": {"pfp_lag_ms": 500},
                        "weights": {"ads": 0.4},
                    },
                    "projection": {"horizons_ms": HORIZONS, "use_cubic": False},
                },
            }
        )
        await ws.send_json(
            {"type": "status", "state": "streaming", "message": "fake", "progress": 0.0}
        )
        spot = 21_000_000_000_000 // BUCKET_INT  # $21000 in ticks
        period = 1.0 / bins_per_second
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        seq = 0
        try:
            while max_bins <= 0 or seq < max_bins:
                spot += int(rng.choice([-1, 0, 0, 0, 1]))
                batch = synthetic_frame(rng, seq, bool(serving))
                wave = math.sin(seq / 40.0)
                await ws.send_json(
                    {
                        "type": "grid_update",
                        "ts_ns": START_NS + (seq + 1) * 100_000_000,
                        "bin_seq": seq,
                        "bin_start_ns": START_NS + seq * 100_000_000,
                        "bin_end_ns": START_NS + (seq + 1) * 100_000_000,
                        "bin_event_count": int(rng.integers(5, 80)),
                        "event_id": seq * 40,
                        "mid_price": spot * 0.25,
                        "spot_ref_price_int": spot * BUCKET_INT,
                        "best_bid_price_int": (spot - 1) * BUCKET_INT,
                        "best_ask_price_int": (spot + 1) * BUCKET_INT,
                        "book_valid": True,
                        "signal_score": 0.6 * wave if serving else None,
                        "projection": {
                            "horizons_ms": HORIZONS,
                            "values": [0.6 * wave * (1 + i / 4) for i in range(4)],
                        }
                        if serving
                        else None,
                        "score_ready": bool(serving) and seq > 20,
                    }
                )
                await ws.send_bytes(ipc_bytes(batch))
                seq += 1
                await asyncio.sleep(max(0.0, t0 + seq * period - loop.time()))
            await ws.send_json(
                {"type": "status", "state": "ended", "message": "done", "progress": 1.0}
            )
            await ws.close()
        except WebSocketDisconnect:
            return

    if DIST.is_dir():
        app.mount("/", StaticFiles(directory=DIST, html=True), name="frontend")
    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--bins-per-second", type=float, default=10.0)
    ap.add_argument("--results-root", type=Path, default=None)
    args = ap.parse_args()
    app = create_app(args.bins_per_second, args.results_root)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
