"""Promote a run: its single-point ServingSpec + pipeline become an immutable, content-hashed
PublishedServingSpec in ``configs/serving_versions/``, optionally behind an alias."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from spymaster_shared.config import PipelineSpec, PublishedServingSpec, ServingSpec
from spymaster_shared.config.experiment import load_experiment
from spymaster_shared.config.serving_registry import (
    build_published,
    diff_published,
    get_alias,
    load_published,
    publish,
    set_alias,
)
from spymaster_shared.errors import ConfigError
from spymaster_shared.names import check_name
from spymaster_shared.results_store import run_detail

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8002"


@dataclass(frozen=True)
class PromoteResult:
    published: PublishedServingSpec
    path: Path
    written: bool
    alias: str | None
    previous_version: str | None
    diff: list[tuple[str, Any, Any]]
    diff_against: str
    url: str


def serving_url(pub: PublishedServingSpec, ref: str, gateway_url: str = DEFAULT_GATEWAY_URL) -> str:
    cap = pub.pipeline.capture
    query = urlencode(
        {
            "product_type": cap.product_type,
            "symbol": cap.symbol,
            "dt": cap.dt,
            "start_time": cap.start_time,
            "serving": ref,
        }
    )
    return f"{gateway_url.rstrip('/')}/vacuum-pressure.html?{query}"


def promote_run(
    experiment: str | Path,
    run_id: str,
    *,
    alias: str | None = None,
    gateway_url: str = DEFAULT_GATEWAY_URL,
) -> PromoteResult:
    spec = load_experiment(experiment)
    if alias is not None:
        check_name(alias, "alias")
    detail = run_detail(run_id)
    if detail["experiment_name"] != spec.name:
        raise ConfigError(
            f"run {run_id} belongs to experiment {detail['experiment_name']!r}, not {spec.name!r}",
            field="run_id",
        )
    serving_data = dict(detail["serving"])
    serving_data["name"] = f"{spec.name}_promoted"
    serving_data["description"] = f"promoted from experiment {spec.name}, run {run_id}"
    serving = ServingSpec.model_validate(serving_data)
    pipeline = PipelineSpec.model_validate(detail["pipeline"])
    pub = build_published(serving, pipeline, source_experiment=spec.name, source_run_id=run_id)
    path, written = publish(pub)
    previous = get_alias(alias) if alias else None
    if previous is not None:
        old = load_published(previous)
        against = f"alias {alias} (was {previous})"
    else:
        centre = spec.resolve_serving()
        old = build_published(centre, centre.resolve_pipeline())
        against = f"serving {centre.name} (sweep centre)"
    if alias:
        set_alias(alias, pub.version)
    return PromoteResult(
        published=pub,
        path=path,
        written=written,
        alias=alias,
        previous_version=previous,
        diff=diff_published(old, pub),
        diff_against=against,
        url=serving_url(pub, alias or pub.version, gateway_url),
    )
