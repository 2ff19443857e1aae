"""The JetStream streams, KV buckets and object store the services use, declared once.

``ensure_bus`` creates (or updates) them idempotently; ``spymaster bus-init`` and every service
call it at start-up. Limits come from :class:`BusLimits` (env ``SPYMASTER_BUS_*``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from spymaster_shared.bus.subjects import ANY, subject

STREAM_MBO = "VP_MBO"
STREAM_GRID = "VP_GRID"
STREAM_SCORE = "VP_SCORE"
STREAM_DLQ = "VP_DLQ"
BUCKET_SESSIONS = "vp_sessions"
BUCKET_SCORERS = "vp_scorers"
BUCKET_CHECKPOINTS = "vp_checkpoints"

# An MBO batch body is at most 1 MB; the frame header adds well under 1 KB.
MAX_BATCH_BYTES = 1_000_000
MAX_MSG_BYTES = MAX_BATCH_BYTES + 4096


@dataclass(frozen=True)
class BusLimits:
    max_age_hours: float = 24.0  # data streams keep a session for a day by default
    max_bytes_gb: float = 4.0  # per data stream (reserved by JetStream); oldest go first
    duplicate_window_s: float = 600.0

    @staticmethod
    def from_env() -> BusLimits:
        env = os.environ
        return BusLimits(
            max_age_hours=float(env.get("SPYMASTER_BUS_MAX_AGE_HOURS", 24.0)),
            max_bytes_gb=float(env.get("SPYMASTER_BUS_MAX_BYTES_GB", 4.0)),
            duplicate_window_s=float(env.get("SPYMASTER_BUS_DUPLICATE_WINDOW_S", 600.0)),
        )


def stream_configs(limits: BusLimits | None = None) -> list[StreamConfig]:
    lim = limits or BusLimits()

    def data(name: str, subj: str, description: str) -> StreamConfig:
        return StreamConfig(
            name=name,
            description=description,
            subjects=[subj],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=lim.max_age_hours * 3600.0,
            max_bytes=int(lim.max_bytes_gb * 1e9),
            max_msg_size=MAX_MSG_BYTES,
            duplicate_window=lim.duplicate_window_s,
            allow_direct=True,
        )

    return [
        data(STREAM_MBO, subject("mbo", ANY), "raw DBN MBO record batches per session"),
        data(STREAM_GRID, subject("grid", ANY), "per-bin grids (header + Arrow IPC) per session"),
        data(STREAM_SCORE, subject("score", ANY, ANY), "per-bin scores per session and serving"),
        StreamConfig(
            name=STREAM_DLQ,
            description="payloads a service refused (malformed, truncated), with the reason",
            subjects=[subject("dlq", ANY)],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=7 * 24 * 3600.0,
            max_bytes=256 * 1024 * 1024,
            max_msg_size=2 * MAX_MSG_BYTES,
            duplicate_window=120.0,
        ),
    ]


def kv_configs() -> list[KeyValueConfig]:
    return [
        KeyValueConfig(
            bucket=BUCKET_SESSIONS,
            description="replay session registry (key = session id = dataset id)",
            history=1,
            storage=StorageType.FILE,
        ),
        KeyValueConfig(
            bucket=BUCKET_SCORERS,
            description="scorer jobs (key = <session>.<serving_version>)",
            history=1,
            storage=StorageType.FILE,
        ),
    ]


def object_store_configs() -> list[ObjectStoreConfig]:
    return [
        ObjectStoreConfig(
            bucket=BUCKET_CHECKPOINTS,
            description="engine book/feature checkpoints (framed, never pickle)",
            storage=StorageType.FILE,
        )
    ]


async def ensure_bus(js: JetStreamContext, limits: BusLimits | None = None) -> list[str]:
    """Create or update every stream and bucket; returns what was created or updated."""
    done: list[str] = []
    for cfg in stream_configs(limits or BusLimits.from_env()):
        try:
            info = await js.stream_info(cfg.name)  # type: ignore[arg-type]
        except NotFoundError:
            await js.add_stream(cfg)
            done.append(f"created stream {cfg.name}")
            continue
        current = info.config
        if (
            current.subjects != cfg.subjects
            or current.max_age != cfg.max_age
            or current.max_bytes != cfg.max_bytes
            or current.duplicate_window != cfg.duplicate_window
            or current.max_msg_size != cfg.max_msg_size
        ):
            await js.update_stream(cfg)
            done.append(f"updated stream {cfg.name}")
    for kv in kv_configs():
        try:
            await js.key_value(kv.bucket)
        except Exception:
            await js.create_key_value(config=kv)
            done.append(f"created kv bucket {kv.bucket}")
    for obs in object_store_configs():
        try:
            await js.object_store(obs.bucket)
        except Exception:
            await js.create_object_store(bucket=obs.bucket, config=obs)
            done.append(f"created object store {obs.bucket}")
    return done
