"""``harness promote <experiment.yaml> --run-id <id> [--alias <name>]``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from spymaster_harness.cli import app
from spymaster_harness.promote import DEFAULT_GATEWAY_URL, promote_run


@app.command("promote")
def promote_cmd(
    experiment: Annotated[str, typer.Argument(help="ExperimentSpec YAML (path or name)")],
    run_id: Annotated[str, typer.Option("--run-id", help="run to promote (see `compare`)")],
    alias: Annotated[str | None, typer.Option("--alias", help="alias to point at it")] = None,
    gateway_url: Annotated[
        str, typer.Option("--gateway-url", envvar="SPYMASTER_GATEWAY_URL")
    ] = DEFAULT_GATEWAY_URL,
) -> None:
    """Publish a run as an immutable serving version, update the alias, print URL and diff."""
    res = promote_run(experiment, run_id, alias=alias, gateway_url=gateway_url)
    console = Console()
    state = "written" if res.written else "already published (unchanged)"
    console.print(f"version {res.published.version}: {res.path} ({state})")
    if res.alias:
        console.print(f"alias {res.alias} -> {res.published.version}")
    console.print(f"diff against {res.diff_against}:")
    if not res.diff:
        console.print("  (no changes)")
    for key, old, new in res.diff:
        console.print(f"  {key}: {old!r} -> {new!r}", markup=False, highlight=False)
    console.print(f"serving URL: {res.url}", markup=False, highlight=False)
