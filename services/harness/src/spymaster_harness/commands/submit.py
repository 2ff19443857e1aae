"""``harness submit <experiment.yaml> --address http://HOST:8265``: a sweep as a Ray job."""

from __future__ import annotations

from typing import Annotated

import typer

from spymaster_harness.cli import app
from spymaster_harness.ray_jobs import submit

ADDRESS_HELP = "Ray dashboard / Jobs API address (default: $RAY_ADDRESS)"


@app.command("submit")
def submit_cmd(
    experiment: Annotated[str, typer.Argument(help="ExperimentSpec YAML inside the project")],
    address: Annotated[str | None, typer.Option("--address", help=ADDRESS_HELP)] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1)] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="KEY=VALUE for the job (repeatable)")
    ] = None,
) -> None:
    """Upload the project (working_dir + py_modules) and run `harness run` as a Ray job."""
    extra = {}
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--env {item!r} must be KEY=VALUE")
        extra[key] = value
    job_id = submit(experiment, address=address, workers=workers, extra_env=extra)
    typer.echo(f"submitted {job_id}")
    typer.echo(f"follow: harness logs {job_id}   stop: harness stop {job_id}")
