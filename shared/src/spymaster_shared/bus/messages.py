"""Every bus message type, declared once as a frozen msgspec Struct. See ``docs/protocol.md``.

Data messages (MBO batches, grids, scores, end markers, checkpoints) are *framed*:
a msgpack header from this module followed by a binary body (``framing.py``).
Control messages (request/reply, KV values) are JSON.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from spymaster_shared.grid_schema import BIN_FIELDS

_PY_TYPES: dict[str, type] = {"i8": int, "i4": int, "i1": int, "f8": float, "?": bool}

# The per-bin header, generated from grid_schema.BIN_FIELDS so it is declared exactly once.
BinHeader = msgspec.defstruct(
    "BinHeader",
    [(name, _PY_TYPES[code]) for name, code in BIN_FIELDS],
    frozen=True,
    module=__name__,
)


# --------------------------------------------------------------------------- framed data


class MboBatch(msgspec.Struct, frozen=True):
    """Body: ``n_records`` raw 56-byte DBN MBO records; the last one carries F_LAST."""

    session_id: str
    batch_seq: int  # 0, 1, 2... per session; Nats-Msg-Id = <session>:<batch_seq>
    n_records: int
    first_ts_event: int
    last_ts_event: int
    warmup: bool  # every record is before the capture start (not paced)
    pub_wall_ns: int  # wall clock (time.time_ns) at publish, for latency measurements
    body_len: int


class GridBin(msgspec.Struct, frozen=True):
    """Body: Arrow IPC stream of one record batch with ``grid_schema.FRAME_SCHEMA``
    (score columns hold their sentinels; the gateway fills them from the scorer)."""

    session_id: str
    bin_seq: int
    bin: BinHeader  # type: ignore[valid-type]
    source_pub_wall_ns: int  # pub_wall_ns of the MBO batch that closed this bin
    closed_wall_ns: int  # wall clock when the engine closed the bin
    body_len: int


class ScoreBin(msgspec.Struct, frozen=True):
    """Body: ``flow_score`` as n_cells little-endian f8, then ``flow_state_code`` as n_cells i1."""

    session_id: str
    serving_version: str
    bin_seq: int
    n_cells: int
    signal_score: float | None  # None when not finite
    score_ready: bool
    projection: list[float | None] | None  # one value per horizon, None when not finite
    source_pub_wall_ns: int
    body_len: int


class StreamEnd(msgspec.Struct, frozen=True):
    """Last message of a session on a stream. Nats-Msg-Id = <session>[:<serving>]:end."""

    session_id: str
    reason: Literal["complete", "stopped", "failed"]
    count: int  # batches (mbo), bins (grid, score) published before the marker
    message: str = ""
    body_len: int = 0


class EngineCheckpoint(msgspec.Struct, frozen=True):
    """Body: ``FeatureEngine.checkpoint()`` bytes (never pickle)."""

    session_id: str
    mbo_stream_seq: int  # last VP_MBO stream sequence whose records are in the state
    next_batch_seq: int
    next_bin_seq: int
    created_ns: int
    done: bool
    body_len: int


FRAME_KINDS: dict[int, type[msgspec.Struct]] = {
    1: MboBatch,
    2: GridBin,
    3: ScoreBin,
    4: StreamEnd,
    5: EngineCheckpoint,
}
KIND_OF: dict[type, int] = {cls: kind for kind, cls in FRAME_KINDS.items()}


# --------------------------------------------------------------------------- control (JSON)

SessionState = Literal["starting", "warmup", "streaming", "ended", "stopped", "failed"]


class SessionInfo(msgspec.Struct, frozen=True):
    """A replay session, as stored in the ``vp_sessions`` KV bucket (key = session id)."""

    session_id: str
    pipeline_name: str
    pipeline: dict[str, Any]  # the PipelineSpec (capture already set), model_dump(mode="json")
    speed: float
    state: SessionState
    message: str = ""
    progress: float | None = None
    batches_published: int = 0
    records_published: int = 0
    n_bins: int = 0
    created_ns: int = 0
    updated_ns: int = 0
    # paced sessions: event time pace_anchor_ts_ns was due at wall clock pace_anchor_wall_ns
    # (time.time_ns); ts is due at anchor_wall + (ts - anchor_ts) / speed. 0 until pacing
    # starts; a restarted replay re-anchors.
    pace_anchor_wall_ns: int = 0
    pace_anchor_ts_ns: int = 0


class StartSessionRequest(msgspec.Struct, frozen=True):
    pipeline: dict[str, Any]  # PipelineSpec JSON; session id = its dataset_id()
    speed: float = 1.0


class StopSessionRequest(msgspec.Struct, frozen=True):
    session_id: str


class SessionReply(msgspec.Struct, frozen=True):
    ok: bool
    session_id: str | None = None
    error: str | None = None
    joined: bool = False  # the session already existed; the caller shares it
    session: SessionInfo | None = None


class SessionList(msgspec.Struct, frozen=True):
    sessions: list[SessionInfo]


class ScorerJob(msgspec.Struct, frozen=True):
    """One (session, ServingSpec) scoring job, stored in ``vp_scorers`` (key session.version)."""

    session_id: str
    serving_version: str
    serving: dict[str, Any]  # ServingSpec JSON
    pipeline: dict[str, Any]  # PipelineSpec JSON of the session
    state: Literal["running", "ended", "stopped", "failed"] = "running"
    message: str = ""
    bins_scored: int = 0
    updated_ns: int = 0


class ScorerStartRequest(msgspec.Struct, frozen=True):
    session_id: str
    serving_version: str
    serving: dict[str, Any]
    pipeline: dict[str, Any]


class ScorerStopRequest(msgspec.Struct, frozen=True):
    session_id: str
    serving_version: str


class ScorerReply(msgspec.Struct, frozen=True):
    ok: bool
    error: str | None = None
    job: ScorerJob | None = None


class ScorerJobList(msgspec.Struct, frozen=True):
    jobs: list[ScorerJob]


class EngineSessionStatus(msgspec.Struct, frozen=True):
    session_id: str
    state: Literal["running", "ended", "failed"]
    bins_published: int
    mbo_stream_seq: int
    checkpoints: int
    message: str = ""


class EngineStatusList(msgspec.Struct, frozen=True):
    sessions: list[EngineSessionStatus]


class DeadLetter(msgspec.Struct, frozen=True):
    """Published on ``vp.dlq.<service>``: why a payload was refused, plus the payload itself."""

    service: str
    subject: str
    error: str
    stream_seq: int | None
    payload: bytes
