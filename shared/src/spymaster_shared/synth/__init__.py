"""Synthetic MNQ-like MBO market written as genuine DBN files (see ``docs/synth.md``)."""

from spymaster_shared.synth.market import (
    default_synth_path,
    session_bounds_ns,
    synthesize,
    write_synthetic,
)
from spymaster_shared.synth.params import SynthParams

__all__ = [
    "SynthParams",
    "default_synth_path",
    "session_bounds_ns",
    "synthesize",
    "write_synthetic",
]
