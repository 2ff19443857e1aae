"""``harness run <experiment.yaml>``: sweep an experiment on Ray and persist the results."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from spymaster_harness.cli import app
from spymaster_harness.results_table import print_runs_table


@app.command("run")
def run_cmd(
    experiment: Annotated[str, typer.Argument(help="ExperimentSpec YAML (path or name)")],
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="local Ray CPUs (default: parallel.max_workers capped to the machine)"
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="join a Ray cluster (auto, ray://host:10001) instead of an embedded Ray",
        ),
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="dataset (on-disk, default) or jetstream")
    ] = "dataset",
    nats_url: Annotated[
        str | None,
        typer.Option("--nats-url", envvar="NATS_URL", help="NATS server for --source jetstream"),
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="session id whose vp.grid.<session> to read")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    top_n: Annotated[int, typer.Option("--top-n", help="rows of the summary table")] = 10,
) -> None:
    """Resolve experiment -> serving -> pipeline, ensure the dataset, sweep, persist, track."""
    from spymaster_harness.sweep.runner import run_experiment
    from spymaster_shared.results_store import query_runs

    summary = run_experiment(
        experiment,
        workers=workers,
        ray_address=ray_address,
        source=source,
        nats_url=nats_url,
        session=session,
        progress=progress,
    )
    plan, res = summary.plan, summary.result
    console = Console()
    console.print(
        f"experiment {plan.experiment.name}: dataset {plan.dataset_id}, {plan.n_runs} runs "
        f"({len(plan.scoring_points)} scoring × {len(plan.signal_points)} signal × "
        f"{len(plan.pairs)} TP/SL × {len(plan.cooldowns)} cooldown) × "
        f"{len(plan.thresholds)} thresholds in {res.n_chunks} chunks on {res.n_workers} "
        f"workers: {res.wall_seconds:.1f} s"
    )
    if summary.mlflow_run_id:
        console.print(f"mlflow run {summary.mlflow_run_id}")
    rows = query_runs(
        dataset_id=plan.dataset_id,
        experiment=plan.experiment.name,
        min_signals=plan.experiment.eval.min_signals,
        top_n=top_n,
    )
    print_runs_table(
        rows, title=f"top {top_n} by tp_rate (n_signals >= {plan.experiment.eval.min_signals})"
    )
