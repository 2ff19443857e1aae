"""Harness-specific errors (all :class:`SpymasterError`: the CLI prints one line, exits 2)."""

from __future__ import annotations

from spymaster_shared.errors import SpymasterError


class RayUnavailableError(SpymasterError):
    """A Ray cluster / Jobs API address cannot be reached, or a job id is unknown."""


class TrackingError(SpymasterError):
    """The MLflow tracking backend cannot be reached or refuses a write."""


class SweepError(SpymasterError):
    """A sweep could not complete (a chunk failed after its retries)."""
