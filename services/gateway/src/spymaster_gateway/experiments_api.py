"""Experiment browser REST API (reference 002 "Experiment Browser REST API"; SPEC §8).

``GET /v1/experiments/runs?signal=&dataset_id=&sort=tp_rate&min_signals=5&top_n=50``
    ranked (run, threshold) rows from the results store.
``GET /v1/experiments/runs/{run_id}/detail``
    params, metrics and cumulative PnL per threshold, dataset/pipeline/serving provenance,
    and ``stream_url``: the heatmap page streaming that run's capture.

Reads the store through :mod:`spymaster_shared.results_store` (parquet parts, no Ray). The
results root is ``app.state.results_root`` when set, else the data root's
``research/vp_harness/results``. Unknown query parameters are refused (400, naming the
parameter); an unknown run is 404. Authentication is the gateway's (app-level dependency).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from fastapi import APIRouter, HTTPException, Request

from spymaster_shared.config.serving_registry import list_aliases, list_versions, versions_dir
from spymaster_shared.errors import InvalidNameError
from spymaster_shared.names import check_name
from spymaster_shared.results_store import (
    SORT_KEYS,
    ResultsError,
    UnknownRunError,
    query_runs,
    run_detail,
)

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

RUNS_PARAMS = ("signal", "dataset_id", "sort", "min_signals", "top_n")
MAX_TOP_N = 1000
HEATMAP_PAGE = "/vacuum-pressure.html"


def _results_root(request: Request) -> Path | None:
    return getattr(request.app.state, "results_root", None)


def _bad(param: str, message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=f"{param}: {message}")


def _int_param(request: Request, name: str, default: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, f"expected an integer, got {raw!r}") from None
    if not 0 <= value <= hi:
        raise _bad(name, f"must be between 0 and {hi}, got {value}")
    return value


def _name_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return check_name(raw, name)
    except InvalidNameError as exc:
        raise _bad(name, str(exc)) from None


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: metrics of a threshold without trades become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@router.get("/runs")
def list_runs(request: Request) -> dict[str, Any]:
    unknown = sorted(set(request.query_params.keys()) - {*RUNS_PARAMS, "token"})
    if unknown:
        raise _bad(unknown[0], f"unknown query parameter (allowed: {', '.join(RUNS_PARAMS)})")
    sort = request.query_params.get("sort") or "tp_rate"
    if sort not in SORT_KEYS:
        raise _bad("sort", f"must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
    signal = _name_param(request, "signal")
    dataset_id = _name_param(request, "dataset_id")
    min_signals = _int_param(request, "min_signals", 0, 10**9)
    top_n = _int_param(request, "top_n", 50, MAX_TOP_N)
    try:
        rows = query_runs(
            signal=signal,
            dataset_id=dataset_id,
            sort=sort,
            min_signals=min_signals,
            top_n=top_n,
            root=_results_root(request),
        )
    except ResultsError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None
    return _finite(
        {
            "runs": rows,
            "count": len(rows),
            "sort": sort,
            "sort_keys": list(SORT_KEYS),
            "filters": {"signal": signal, "dataset_id": dataset_id, "min_signals": min_signals},
            "top_n": top_n,
        }
    )


@router.get("/runs/{run_id}/detail")
def get_run_detail(run_id: str, request: Request) -> dict[str, Any]:
    try:
        check_name(run_id, "run_id")
    except InvalidNameError as exc:
        raise _bad("run_id", str(exc)) from None
    try:
        detail = run_detail(run_id, root=_results_root(request))
    except UnknownRunError:
        raise HTTPException(status_code=404, detail=f"unknown run_id {run_id!r}") from None
    except ResultsError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None
    detail["stream"] = stream_target(detail, getattr(request.app.state, "config_root", None))
    detail["stream_url"] = detail["stream"]["url"]
    return _finite(detail)


def promoted_ref(run_id: str, root: Path | None = None) -> tuple[str, str] | None:
    """(serving ref, version) of the newest PublishedServingSpec promoted from ``run_id``.

    The ref is an alias pointing at that version when there is one, else the version.
    """
    base = versions_dir(root)
    found: list[tuple[float, str]] = []
    for version in list_versions(root):
        path = base / f"{version}.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("source_run_id") == run_id:
            found.append((path.stat().st_mtime, version))
    if not found:
        return None
    version = max(found)[1]
    aliases = sorted(a for a, v in list_aliases(root).items() if v == version)
    return (aliases[0] if aliases else version), version


def stream_target(detail: dict[str, Any], config_root: Path | None = None) -> dict[str, Any]:
    """The heatmap URL for a run: its capture window, plus ``serving=<version>`` when the run
    was promoted, else ``pipeline=<name>`` (features only: an unpromoted sweep point has no
    serving config the scorer can load)."""
    capture = detail.get("capture") or {}
    query: dict[str, str] = {}
    for key in ("product_type", "symbol", "dt", "start_time"):
        if capture.get(key) is not None:
            query[key] = str(capture[key])
    promoted = promoted_ref(detail["run_id"], config_root)
    if promoted is not None:
        query["serving"] = promoted[0]
    elif detail.get("pipeline_name"):
        query["pipeline"] = str(detail["pipeline_name"])
    return {
        "url": f"{HEATMAP_PAGE}?{urlencode(query)}",
        "promoted": promoted is not None,
        "serving": promoted[0] if promoted else None,
        "serving_version": promoted[1] if promoted else None,
        "pipeline": detail.get("pipeline_name"),
        "can_stream": all(k in query for k in ("product_type", "symbol", "dt", "start_time")),
    }
