"""The signal registry: names -> SignalSpec (parameters, ranges, factory).

Built-in signals register themselves when ``spymaster_shared.scoring.signals`` is imported;
the harness registers its ML signals with :func:`register_signal`. Formulas: ``docs/signals.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from spymaster_shared.errors import ConfigError

if TYPE_CHECKING:
    from spymaster_shared.config.serving import ServingSpec
    from spymaster_shared.scoring.signals.base import Signal

ParamKind = Literal["int", "float", "int_list", "bool"]


@dataclass(frozen=True)
class ParamSpec:
    """One signal parameter: default, inclusive range (per element for lists), kind.

    ``default=None`` means "not set" (used by ``composite_weight_*``, which override weights).
    ``max_len`` bounds the length of an ``int_list``.
    """

    default: Any
    min: float | None = None
    max: float | None = None
    kind: ParamKind = "float"
    description: str = ""
    max_len: int = 8

    def validate(self, value: Any, where: str, signal: str = "") -> Any:
        """Coerce ``value`` to this kind and check its range; ConfigError naming ``where``."""
        try:
            return self._validate(value, where)
        except ConfigError as exc:
            if not signal:
                raise
            msg = str(exc).removeprefix(f"{where}: ")
            raise ConfigError(f"signal {signal!r}: {msg}", field=where) from None

    def _validate(self, value: Any, where: str) -> Any:
        if value is None and self.default is None:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"must be true or false, got {value!r}", field=where)
            return value
        if self.kind == "int_list":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ConfigError(f"must be a list of integers, got {value!r}", field=where)
            items = list(value)
            if not 1 <= len(items) <= self.max_len:
                raise ConfigError(
                    f"must hold 1 to {self.max_len} values, got {len(items)}", field=where
                )
            return tuple(self._scalar(v, "int", where) for v in items)
        return self._scalar(value, self.kind, where)

    def _scalar(self, value: Any, kind: str, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"must be a number, got {value!r}", field=where)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"must be an integer, got {value!r}", field=where)
            value = int(value)
        else:
            value = float(value)
            if value != value:
                raise ConfigError("must not be NaN", field=where)
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise ConfigError(f"{value!r} is out of range [{self.min}, {self.max}]", field=where)
        return value

    def describe(self) -> str:
        rng = f"[{self.min}, {self.max}]"
        return f"{self.kind} {rng} default {self.default!r}"


SignalFactory = Callable[..., "Signal"]


@dataclass(frozen=True)
class SignalSpec:
    """A registered signal: its parameters, accepted weight keys, and a factory.

    ``factory(params, weights, cell_width_ms=..., n_cells=...)`` receives validated params
    (every name present, defaults filled) and validated weights.
    """

    name: str
    description: str
    params: Mapping[str, ParamSpec]
    factory: SignalFactory
    weights: Mapping[str, float] = field(default_factory=dict)

    def resolve_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise ConfigError(
                f"signal {self.name!r} has no parameter {unknown[0]!r} (known: {known})",
                field=f"signal.params.{unknown[0]}",
            )
        out = {}
        for name, spec in self.params.items():
            value = params.get(name, spec.default)
            where = f"signal.params.{name}"
            out[name] = spec.validate(value, where, self.name)
        return out

    def resolve_weights(self, weights: Mapping[str, float] | None) -> dict[str, float]:
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(self.weights))
        if unknown:
            known = ", ".join(sorted(self.weights)) or "none"
            raise ConfigError(
                f"signal {self.name!r} has no weight {unknown[0]!r} (known: {known})",
                field=f"signal.weights.{unknown[0]}",
            )
        out = dict(self.weights)
        for name, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ConfigError(
                    f"signal {self.name!r}: weight must be a number, got {value!r}",
                    field=f"signal.weights.{name}",
                )
            out[name] = float(value)
        return out

    def create(
        self,
        params: Mapping[str, Any] | None = None,
        weights: Mapping[str, float] | None = None,
        *,
        cell_width_ms: int,
        n_cells: int,
    ) -> Signal:
        """Validate params/weights and build the signal for a grid geometry."""
        if not isinstance(cell_width_ms, int) or cell_width_ms <= 0:
            raise ConfigError(
                f"must be a positive integer, got {cell_width_ms!r}", field="cell_width_ms"
            )
        if not isinstance(n_cells, int) or n_cells < 3 or n_cells % 2 == 0:
            raise ConfigError(
                f"must be an odd integer >= 3 (2R+1), got {n_cells!r}", field="n_cells"
            )
        return self.factory(
            self.resolve_params(params),
            self.resolve_weights(weights),
            cell_width_ms=cell_width_ms,
            n_cells=n_cells,
        )


_REGISTRY: dict[str, SignalSpec] = {}


def register_signal(spec: SignalSpec, *, replace: bool = False) -> SignalSpec:
    """Add a signal to the registry; a second registration of a name needs ``replace=True``."""
    if spec.name in _REGISTRY and not replace and _REGISTRY[spec.name] is not spec:
        raise ConfigError(f"signal {spec.name!r} is already registered", field="signal.name")
    _REGISTRY[spec.name] = spec
    return spec


def get_signal(name: str) -> SignalSpec:
    """The registered signal ``name``; ConfigError listing the known signals otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(list_signals())
        raise ConfigError(
            f"unknown signal {name!r} (known: {known})", field="signal.name"
        ) from None


def list_signals() -> list[str]:
    """Names of all registered signals, sorted."""
    return sorted(_REGISTRY)


def signal_specs() -> list[SignalSpec]:
    """All registered SignalSpecs, sorted by name (for ``harness list-signals``)."""
    return [_REGISTRY[n] for n in list_signals()]


def make_signal(serving: ServingSpec, *, cell_width_ms: int, n_cells: int) -> Signal:
    """The signal a ServingSpec names, built with its params and weights."""
    spec = get_signal(serving.signal.name)
    return spec.create(
        serving.signal.params,
        serving.signal.weights,
        cell_width_ms=cell_width_ms,
        n_cells=n_cells,
    )
