"""``harness stop <job_id>``: stop a running Ray job."""

from __future__ import annotations

from typing import Annotated

import typer

from spymaster_harness.cli import app
from spymaster_harness.commands.submit import ADDRESS_HELP
from spymaster_harness.ray_jobs import stop_job


@app.command("stop")
def stop_cmd(
    job_id: Annotated[str, typer.Argument(help="submission id (see `harness jobs`)")],
    address: Annotated[str | None, typer.Option("--address", help=ADDRESS_HELP)] = None,
) -> None:
    """Ask Ray to stop a job."""
    stopped = stop_job(job_id, address)
    typer.echo(f"{job_id}: {'stop requested' if stopped else 'not running'}")
