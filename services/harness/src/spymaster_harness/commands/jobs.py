"""``harness jobs``: the Ray jobs of a cluster."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spymaster_harness.cli import app
from spymaster_harness.commands.submit import ADDRESS_HELP
from spymaster_harness.ray_jobs import list_jobs


def _ts(ms: int | None) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).isoformat(timespec="seconds") if ms else ""


@app.command("jobs")
def jobs_cmd(
    address: Annotated[str | None, typer.Option("--address", help=ADDRESS_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per job")] = False,
) -> None:
    """List submitted jobs with their status."""
    jobs = sorted(list_jobs(address), key=lambda j: j["start_time"] or 0)
    if as_json:
        for j in jobs:
            typer.echo(json.dumps(j, default=str))
        return
    table = Table(title="Ray jobs")
    for col in ("submission_id", "status", "start", "end", "entrypoint", "message"):
        table.add_column(col, overflow="fold")
    for j in jobs:
        table.add_row(
            j["submission_id"],
            j["status"],
            _ts(j["start_time"]),
            _ts(j["end_time"]),
            j["entrypoint"],
            j["message"],
        )
    Console().print(table)
