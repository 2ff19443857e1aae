"""Which DBN files hold a capture: an explicit path/glob, or the data-root layout."""

from __future__ import annotations

import glob
from pathlib import Path

from spymaster_shared.config.pipeline import CaptureConfig
from spymaster_shared.errors import DbnInputError
from spymaster_shared.paths import raw_dir

DBN_SUFFIXES = (".dbn", ".dbn.zst")


def capture_files(capture: CaptureConfig, data_root: Path | None = None) -> list[Path]:
    """The DBN files of ``capture``, sorted by name.

    ``capture.source`` (a path or glob; relative to the current directory) wins when set.
    Otherwise: files in ``raw_dir(product_type, symbol)`` whose name contains the capture
    date as YYYYMMDD and ends with ``.dbn`` or ``.dbn.zst``.
    """
    if capture.source:
        pattern = str(Path(capture.source).expanduser())
        if glob.has_magic(pattern):
            found = [Path(p) for p in glob.glob(pattern) if Path(p).is_file()]
        else:
            found = [Path(pattern)] if Path(pattern).is_file() else []
        if not found:
            raise DbnInputError(f"no DBN file matches capture.source {capture.source!r}")
        return sorted(found, key=lambda p: p.name)
    directory = raw_dir(capture.product_type, capture.symbol, data_root)
    day = capture.date.strftime("%Y%m%d")
    found = []
    if directory.is_dir():
        found = [
            p
            for p in directory.iterdir()
            if p.is_file() and day in p.name and p.name.endswith(DBN_SUFFIXES)
        ]
    if not found:
        raise DbnInputError(
            f"no *{day}*.dbn / *{day}*.dbn.zst file for {capture.symbol} in {directory}"
        )
    return sorted(found, key=lambda p: p.name)
