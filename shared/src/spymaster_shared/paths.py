"""Where things live: the data root (``SPYMASTER_DATA_ROOT``) and the config root.

Data-root layout (reference 002)::

    <data_root>/raw/source=databento/product_type=<pt>/symbol=<root>/table=market_by_order_dbn/
    <data_root>/research/vp_immutable/<dataset_id>/
    <data_root>/research/vp_harness/results/
    <data_root>/cache/vp_book/
"""

from __future__ import annotations

import os
from pathlib import Path

from spymaster_shared.names import check_name, check_product_type, check_symbol

_REPO_ROOT = Path(__file__).resolve().parents[3]


def data_root() -> Path:
    """The data root: ``$SPYMASTER_DATA_ROOT``, default ``./lake``."""
    return Path(os.environ.get("SPYMASTER_DATA_ROOT", "lake")).expanduser()


def config_root() -> Path:
    """The config root: ``$SPYMASTER_CONFIG_ROOT``, else the repository's ``configs/``."""
    env = os.environ.get("SPYMASTER_CONFIG_ROOT")
    if env:
        return Path(env).expanduser()
    repo = _REPO_ROOT / "configs"
    if repo.is_dir():
        return repo
    return Path("configs")


def symbol_root(symbol: str) -> str:
    """The product root of a futures contract (MNQH6 -> MNQ, 6EM4 -> 6E); equities unchanged."""
    import re

    m = re.fullmatch(r"([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{1,2})", symbol)
    return m.group(1) if m else symbol


def raw_dir(product_type: str, symbol: str, root: Path | None = None) -> Path:
    """Directory holding the raw DBN files of ``symbol``'s product root."""
    check_product_type(product_type)
    check_symbol(symbol)
    base = root if root is not None else data_root()
    return (
        base
        / "raw"
        / "source=databento"
        / f"product_type={product_type}"
        / f"symbol={symbol_root(symbol)}"
        / "table=market_by_order_dbn"
    )


def datasets_dir(root: Path | None = None) -> Path:
    return (root if root is not None else data_root()) / "research" / "vp_immutable"


def dataset_dir(dataset_id: str, root: Path | None = None) -> Path:
    return datasets_dir(root) / check_name(dataset_id, "dataset_id")


def results_dir(root: Path | None = None) -> Path:
    return (root if root is not None else data_root()) / "research" / "vp_harness" / "results"


def book_cache_dir(root: Path | None = None) -> Path:
    return (root if root is not None else data_root()) / "cache" / "vp_book"
