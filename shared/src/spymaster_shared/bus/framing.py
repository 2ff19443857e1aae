"""Framing of bus payloads: a fixed prelude, a msgpack header (a frozen Struct), a body.

::

    b"VP" | u8 version | u8 kind | u32 header_len (LE) | header (msgpack) | body

Each header declares ``body_len``; a truncated or padded payload, an unknown kind, a bad magic
or a header of the wrong type raises :class:`BusError` (the caller parks it on the DLQ).
"""

from __future__ import annotations

import struct
from typing import Any, TypeVar

import msgspec

from spymaster_shared.bus.messages import FRAME_KINDS, KIND_OF
from spymaster_shared.errors import BusError

MAGIC = b"VP"
VERSION = 1
_PRELUDE = struct.Struct("<2sBBI")

T = TypeVar("T", bound=msgspec.Struct)

_encoder = msgspec.msgpack.Encoder()
_decoders = {kind: msgspec.msgpack.Decoder(cls) for kind, cls in FRAME_KINDS.items()}


def encode_frame(header: msgspec.Struct, body: bytes | memoryview = b"") -> bytes:
    """One payload: prelude + header + body. ``header.body_len`` must equal ``len(body)``."""
    kind = KIND_OF.get(type(header))
    if kind is None:
        raise BusError(f"{type(header).__name__} is not a framed message type")
    if header.body_len != len(body):  # type: ignore[attr-defined]
        raise BusError(
            f"{type(header).__name__}.body_len={header.body_len} but body has "  # type: ignore[attr-defined]
            f"{len(body)} bytes"
        )
    head = _encoder.encode(header)
    return b"".join((_PRELUDE.pack(MAGIC, VERSION, kind, len(head)), head, body))


def decode_frame(payload: bytes | memoryview) -> tuple[Any, memoryview]:
    """(header, body) of a payload; the body is a zero-copy view."""
    view = memoryview(payload)
    if len(view) < _PRELUDE.size:
        raise BusError(f"truncated frame: {len(view)} bytes, prelude needs {_PRELUDE.size}")
    magic, version, kind, head_len = _PRELUDE.unpack_from(view)
    if magic != MAGIC:
        raise BusError(f"bad frame magic {bytes(magic)!r}")
    if version != VERSION:
        raise BusError(f"unsupported frame version {version}")
    decoder = _decoders.get(kind)
    if decoder is None:
        raise BusError(f"unknown frame kind {kind}")
    start = _PRELUDE.size
    if len(view) < start + head_len:
        raise BusError("truncated frame header")
    try:
        header = decoder.decode(view[start : start + head_len])
    except msgspec.DecodeError as exc:
        raise BusError(f"malformed frame header ({FRAME_KINDS[kind].__name__}): {exc}") from None
    body = view[start + head_len :]
    if len(body) != header.body_len:
        raise BusError(
            f"{type(header).__name__}: body has {len(body)} bytes, header says {header.body_len}"
        )
    return header, body


def decode_as(payload: bytes | memoryview, cls: type[T]) -> tuple[T, memoryview]:
    """Like :func:`decode_frame` but the header must be a ``cls``."""
    header, body = decode_frame(payload)
    if not isinstance(header, cls):
        raise BusError(f"expected {cls.__name__}, got {type(header).__name__}")
    return header, body


def encode_json(msg: msgspec.Struct) -> bytes:
    """Control messages (request/reply, KV values) are JSON for readability with ``nats`` CLI."""
    return msgspec.json.encode(msg)


def decode_json(payload: bytes | memoryview, cls: type[T]) -> T:
    try:
        return msgspec.json.decode(payload, type=cls)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BusError(f"malformed {cls.__name__}: {exc}") from None
