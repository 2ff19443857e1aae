"""Checkpoint bytes: round trip, no pickle, and clear refusals of foreign or damaged blobs."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from spymaster_engine.book_checkpoint import (
    CheckpointError,
    read_checkpoint_file,
    write_checkpoint_file,
)
from spymaster_engine.core import FeatureEngine
from tests.engine.market import MS, make_cfg, random_stream


@pytest.fixture(scope="module")
def engine_blob():
    cfg = make_cfg(grid_radius_ticks=5, bucket_dollars=0.25)
    eng = FeatureEngine(cfg)
    eng.process(random_stream(4, 500, mean_gap_ns=5 * MS))
    return cfg, eng, eng.checkpoint()


def test_round_trip_keeps_state(engine_blob, tmp_path):
    cfg, eng, blob = engine_blob
    path = tmp_path / "ckpt" / "engine.npz"
    write_checkpoint_file(path, blob)
    again = FeatureEngine.restore(cfg, read_checkpoint_file(path))
    assert again.stats == eng.stats and again.checkpoint() == blob
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_other_config_is_refused(engine_blob):
    cfg, _, blob = engine_blob
    with pytest.raises(CheckpointError, match="config"):
        FeatureEngine.restore(cfg.model_copy(update={"tau_velocity": 3.0}), blob)


def test_damaged_or_foreign_blobs_are_refused(engine_blob):
    cfg, _, blob = engine_blob
    with pytest.raises(CheckpointError, match="npz"):
        FeatureEngine.restore(cfg, blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="npz"):
        FeatureEngine.restore(cfg, b"not a checkpoint")
    # a valid npz with a wrong-shaped array
    src = np.load(io.BytesIO(blob), allow_pickle=False)
    arrays = {k: src[k] for k in src.files}
    arrays["depth"] = arrays["depth"][:10]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(CheckpointError, match="depth"):
        FeatureEngine.restore(cfg, buf.getvalue())
    # no metadata
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.npy", b"")
    with pytest.raises(CheckpointError):
        FeatureEngine.restore(cfg, buf.getvalue())
