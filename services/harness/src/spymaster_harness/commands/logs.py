"""``harness logs <job_id>``: the output of a Ray job."""

from __future__ import annotations

from typing import Annotated

import typer

from spymaster_harness.cli import app
from spymaster_harness.commands.submit import ADDRESS_HELP
from spymaster_harness.ray_jobs import job_logs


@app.command("logs")
def logs_cmd(
    job_id: Annotated[str, typer.Argument(help="submission id (see `harness jobs`)")],
    address: Annotated[str | None, typer.Option("--address", help=ADDRESS_HELP)] = None,
) -> None:
    """Print a job's logs."""
    typer.echo(job_logs(job_id, address), nl=False)
