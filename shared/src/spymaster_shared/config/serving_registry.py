"""Published serving versions and their aliases (used by ``harness promote`` and the gateway).

* ``configs/serving_versions/<version>.yaml``: an immutable :class:`PublishedServingSpec`,
  ``version`` = its content hash; written once, never overwritten with other content.
* ``configs/serving_versions/serving_registry.sqlite``: ``aliases`` (alias -> version) and
  ``alias_history`` (every change, for diffs and audit).

``resolve_serving_ref(ref)`` is what ``?serving=<ref>`` means: an alias, else a published
version, else a plain ServingSpec name in ``configs/serving/`` (snapshotted on the fly).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from spymaster_shared.config.loader import read_yaml_mapping, validate
from spymaster_shared.config.pipeline import PipelineSpec
from spymaster_shared.config.serving import PublishedServingSpec, ServingSpec, load_serving
from spymaster_shared.errors import ConfigError
from spymaster_shared.names import check_name
from spymaster_shared.paths import config_root

REGISTRY_FILE = "serving_registry.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alias_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alias TEXT NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    changed_at TEXT NOT NULL
);
"""


def versions_dir(root: Path | None = None) -> Path:
    return (root if root is not None else config_root()) / "serving_versions"


def registry_path(root: Path | None = None) -> Path:
    return versions_dir(root) / REGISTRY_FILE


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _connect(root: Path | None) -> sqlite3.Connection:
    path = registry_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.executescript(_SCHEMA)
    return conn


def build_published(
    serving: ServingSpec,
    pipeline: PipelineSpec,
    *,
    source_experiment: str | None = None,
    source_run_id: str | None = None,
) -> PublishedServingSpec:
    return PublishedServingSpec(
        version=PublishedServingSpec.content_version(serving, pipeline),
        serving=serving,
        pipeline=pipeline,
        source_experiment=source_experiment,
        source_run_id=source_run_id,
        created_at=_now(),
    )


def _content(spec: PublishedServingSpec) -> dict[str, Any]:
    return {
        "serving": spec.serving.model_dump(mode="json"),
        "pipeline": spec.pipeline.model_dump(mode="json"),
    }


def publish(spec: PublishedServingSpec, root: Path | None = None) -> tuple[Path, bool]:
    """Write ``<version>.yaml`` atomically; (path, written). An existing file with the same
    content is kept (idempotent); one with different content is refused."""
    path = versions_dir(root) / f"{check_name(spec.version, 'version')}.yaml"
    if path.exists():
        existing = load_published(spec.version, root)
        if _content(existing) != _content(spec):
            raise ConfigError(
                "a published version with this name but other content exists; refusing to "
                "overwrite an immutable serving version",
                file=path,
            )
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # link() fails if another process published the same version meanwhile: never clobber
        try:
            os.link(tmp, path)
        except FileExistsError:
            return publish(spec, root)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path, True


def load_published(version: str, root: Path | None = None) -> PublishedServingSpec:
    path = versions_dir(root) / f"{check_name(version, 'version')}.yaml"
    if not path.is_file():
        raise ConfigError(f"no published serving version {version!r}", file=path)
    return validate(PublishedServingSpec, read_yaml_mapping(path), path)


def set_alias(alias: str, version: str, root: Path | None = None) -> str | None:
    """Point ``alias`` at ``version`` (which must be published); returns the previous version."""
    check_name(alias, "alias")
    load_published(version, root)  # refuse dangling aliases
    with closing(_connect(root)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT version FROM aliases WHERE alias = ?", (alias,)).fetchone()
            previous = row[0] if row else None
            now = _now()
            conn.execute(
                "INSERT INTO aliases(alias, version, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(alias) DO UPDATE SET version = excluded.version, "
                "updated_at = excluded.updated_at",
                (alias, version, now),
            )
            conn.execute(
                "INSERT INTO alias_history(alias, version, previous_version, changed_at) "
                "VALUES (?, ?, ?, ?)",
                (alias, version, previous, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return previous


def get_alias(alias: str, root: Path | None = None) -> str | None:
    check_name(alias, "alias")
    if not registry_path(root).exists():
        return None
    with closing(_connect(root)) as conn:
        row = conn.execute("SELECT version FROM aliases WHERE alias = ?", (alias,)).fetchone()
    return row[0] if row else None


def list_aliases(root: Path | None = None) -> dict[str, str]:
    if not registry_path(root).exists():
        return {}
    with closing(_connect(root)) as conn:
        rows = conn.execute("SELECT alias, version FROM aliases ORDER BY alias").fetchall()
    return dict(rows)


def alias_history(alias: str, root: Path | None = None) -> list[dict[str, Any]]:
    check_name(alias, "alias")
    if not registry_path(root).exists():
        return []
    with closing(_connect(root)) as conn:
        rows = conn.execute(
            "SELECT version, previous_version, changed_at FROM alias_history "
            "WHERE alias = ? ORDER BY id",
            (alias,),
        ).fetchall()
    return [{"version": v, "previous_version": p, "changed_at": t} for v, p, t in rows]


def list_versions(root: Path | None = None) -> list[str]:
    base = versions_dir(root)
    return sorted(p.stem for p in base.glob("v*.yaml")) if base.is_dir() else []


@dataclass(frozen=True)
class ResolvedServing:
    ref: str
    kind: Literal["alias", "version", "serving"]
    version: str
    serving: ServingSpec
    pipeline: PipelineSpec
    alias: str | None = None


def resolve_serving_ref(ref: str, root: Path | None = None) -> ResolvedServing:
    """``?serving=<ref>``: alias -> published version -> plain ServingSpec name."""
    check_name(ref, "serving")
    version = get_alias(ref, root)
    if version is not None:
        pub = load_published(version, root)
        return ResolvedServing(ref, "alias", pub.version, pub.serving, pub.pipeline, alias=ref)
    if (versions_dir(root) / f"{ref}.yaml").is_file():
        pub = load_published(ref, root)
        return ResolvedServing(ref, "version", pub.version, pub.serving, pub.pipeline)
    base = root if root is not None else config_root()
    path = base / "serving" / f"{ref}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown serving {ref!r}: not an alias, a published version or a serving config",
            field="serving",
        )
    serving = load_serving(path)
    pipeline = serving.resolve_pipeline(path)
    version = PublishedServingSpec.content_version(serving, pipeline)
    return ResolvedServing(ref, "serving", version, serving, pipeline)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (lists kept whole), for diffs."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def diff_published(
    old: PublishedServingSpec | None, new: PublishedServingSpec
) -> list[tuple[str, Any, Any]]:
    """(field, old value, new value) for every field of serving + pipeline that differs."""
    a = flatten(_content(old)) if old is not None else {}
    b = flatten(_content(new))
    missing = object()
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb:
            out.append((key, None if va is missing else va, None if vb is missing else vb))
    return out
