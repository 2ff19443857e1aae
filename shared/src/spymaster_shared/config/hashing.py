"""Stable content hashes: canonical JSON (sorted keys, no whitespace) -> sha256 prefix."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def stable_short_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj``, first ``length`` hex digits."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]
