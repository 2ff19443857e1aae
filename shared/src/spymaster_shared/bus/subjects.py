"""Every NATS subject and de-duplication id, built in one place. See ``docs/protocol.md``.

Tokens that reach a subject are validated against the strict name pattern, so a session id,
serving version or service name can never inject ``.``, ``*`` or ``>`` into a subject.
"""

from __future__ import annotations

from typing import Literal

from spymaster_shared.errors import BusError
from spymaster_shared.names import NAME_RE

SubjectKind = Literal["mbo", "grid", "score", "ctl", "dlq"]

# A wildcard token, accepted in place of any validated token (for filters and subscriptions).
ANY = "*"

_LAYOUT: dict[str, tuple[str, int]] = {
    "mbo": ("vp.mbo", 1),  # vp.mbo.<session>
    "grid": ("vp.grid", 1),  # vp.grid.<session>
    "score": ("vp.score", 2),  # vp.score.<session>.<serving_version>
    "ctl": ("vp.ctl", 2),  # vp.ctl.<service>.<verb>
    "dlq": ("vp.dlq", 1),  # vp.dlq.<service>
}


def _token(value: str) -> str:
    if value == ANY:
        return value
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise BusError(f"subject token {value!r} must match {NAME_RE.pattern}")
    return value


def subject(kind: SubjectKind, *tokens: str) -> str:
    """The subject of ``kind`` for ``tokens``; ``ANY`` stands for one wildcard token.

    >>> subject("grid", "a1b2")
    'vp.grid.a1b2'
    >>> subject("score", "a1b2", "v0123")
    'vp.score.a1b2.v0123'
    """
    try:
        prefix, arity = _LAYOUT[kind]
    except KeyError:
        raise BusError(f"unknown subject kind {kind!r}; known: {sorted(_LAYOUT)}") from None
    if len(tokens) != arity:
        raise BusError(f"subject {kind!r} takes {arity} token(s), got {len(tokens)}")
    return ".".join((prefix, *(_token(t) for t in tokens)))


def subject_tokens(kind: SubjectKind, value: str) -> tuple[str, ...]:
    """Inverse of :func:`subject`: the tokens of a concrete subject of ``kind``."""
    prefix, arity = _LAYOUT[kind]
    if not value.startswith(prefix + "."):
        raise BusError(f"subject {value!r} is not a {kind!r} subject")
    tokens = tuple(value[len(prefix) + 1 :].split("."))
    if len(tokens) != arity:
        raise BusError(f"subject {value!r} has {len(tokens)} token(s), expected {arity}")
    return tuple(_token(t) for t in tokens)


def msg_id(*parts: str | int) -> str:
    """The ``Nats-Msg-Id`` de-dup id: ``<session>:<seq>`` or ``<session>:<serving>:<seq>``."""
    out = []
    for p in parts:
        if isinstance(p, int):
            out.append(str(p))
        else:
            out.append(_token(p) if p != ANY else "")
    return ":".join(out)


# Control verbs (request/reply), one endpoint each on the service's nats.micro service.
CTL_REPLAY_START = subject("ctl", "replay", "start")
CTL_REPLAY_STOP = subject("ctl", "replay", "stop")
CTL_REPLAY_LIST = subject("ctl", "replay", "list")
CTL_SCORER_START = subject("ctl", "scorer", "start")
CTL_SCORER_STOP = subject("ctl", "scorer", "stop")
CTL_SCORER_LIST = subject("ctl", "scorer", "list")
CTL_ENGINE_LIST = subject("ctl", "engine", "list")
