"""Safe YAML loading and pydantic validation with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from spymaster_shared.errors import ConfigError
from spymaster_shared.names import check_name
from spymaster_shared.paths import config_root

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("file not found", file=path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            f"invalid YAML: {where}{getattr(exc, 'problem', exc)}", file=path
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", file=path)
    return data


def validation_error(exc: ValidationError, file: Path | str | None) -> ConfigError:
    """One ConfigError naming the first bad field (and how many more there are)."""
    errs = exc.errors()
    first = errs[0]
    field = ".".join(str(p) for p in first["loc"]) or "<root>"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    if len(errs) > 1:
        msg += f" (and {len(errs) - 1} more error(s))"
    return ConfigError(msg, file=file, field=field)


def validate(model: type[M], data: dict[str, Any], file: Path | str | None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, file) from None


def resolve_config_path(kind: str, name_or_path: str | Path) -> Path:
    """A config given by name (looked up in ``<config_root>/<kind>/<name>.yaml``) or by path."""
    s = str(name_or_path)
    if s.endswith((".yaml", ".yml")) or "/" in s or "\\" in s:
        return Path(s)
    check_name(s, f"{kind} name")
    return config_root() / kind / f"{s}.yaml"


def load_model(model: type[M], kind: str, name_or_path: str | Path) -> tuple[M, Path]:
    path = resolve_config_path(kind, name_or_path)
    if not path.is_file():
        raise ConfigError(f"no {kind} config named {str(name_or_path)!r}", file=path)
    return validate(model, read_yaml_mapping(path), path), path
