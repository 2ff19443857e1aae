"""Typed errors users can act on: each names the file, field, parameter or subject at fault.

CLIs turn any :class:`SpymasterError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path


class SpymasterError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(SpymasterError):
    """A config file is missing, malformed, or has a bad/unknown field."""

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        where = ": ".join(p for p in (self.file, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InvalidNameError(ConfigError):
    """A name that would reach a file path or a NATS subject fails the strict pattern."""


class DbnInputError(SpymasterError):
    """A DBN file is missing, truncated, not MBO, or lacks the requested symbol."""

    def __init__(self, message: str, *, file: str | Path | None = None):
        self.file = str(file) if file is not None else None
        super().__init__(f"{self.file}: {message}" if self.file else message)


class DatasetError(SpymasterError):
    """A dataset is missing, incomplete, or fails its checksums."""


class BusError(SpymasterError):
    """A bus payload is malformed or a subject/stream is misused."""


class SessionError(SpymasterError):
    """A replay session cannot be started (unknown file, symbol, or window)."""
