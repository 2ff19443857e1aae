"""Per-product defaults (tick size, bucket size, multiplier) from ``configs/products.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from spymaster_shared.config.loader import read_yaml_mapping, validate
from spymaster_shared.errors import ConfigError
from spymaster_shared.paths import config_root, symbol_root


class ProductSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tick_size: float = Field(gt=0)
    bucket_size_dollars: float | None = Field(default=None, gt=0)
    multiplier: float = Field(gt=0)
    grid_max_ticks: int = Field(default=200, gt=0)
    strike_step: float | None = None
    strike_ticks: int | None = None

    @property
    def bucket(self) -> float:
        return self.bucket_size_dollars if self.bucket_size_dollars is not None else self.tick_size


class ProductsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    futures: dict[str, ProductSpec]
    equity_default: ProductSpec


@lru_cache(maxsize=8)
def _load(path: Path) -> ProductsFile:
    return validate(ProductsFile, read_yaml_mapping(path), path)


def load_products(path: Path | None = None) -> ProductsFile:
    return _load((path or config_root() / "products.yaml").resolve())


def product_for(product_type: str, symbol: str, path: Path | None = None) -> ProductSpec:
    """Defaults for ``symbol``: futures by product root (MNQH6 -> MNQ), equities by default."""
    products = load_products(path)
    if product_type.startswith("future"):
        root = symbol_root(symbol)
        if root not in products.futures:
            raise ConfigError(
                f"no product {root!r} for symbol {symbol!r}; known: {sorted(products.futures)}",
                file=path or config_root() / "products.yaml",
                field=f"futures.{root}",
            )
        return products.futures[root]
    return products.equity_default
