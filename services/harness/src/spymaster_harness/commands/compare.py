"""``harness compare``: ranked table of (run, threshold) results from the results store."""

from __future__ import annotations

from typing import Annotated

import typer

from spymaster_harness.cli import app
from spymaster_harness.results_table import print_runs_table
from spymaster_shared.results_store import SORT_KEYS, query_runs


@app.command("compare")
def compare_cmd(
    signal: Annotated[str | None, typer.Option("--signal", help="only this signal")] = None,
    dataset_id: Annotated[
        str | None, typer.Option("--dataset-id", help="only this dataset")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="only this experiment")
    ] = None,
    sort: Annotated[str, typer.Option("--sort", help="|".join(SORT_KEYS))] = "tp_rate",
    min_signals: Annotated[int, typer.Option("--min-signals", min=0)] = 0,
    top_n: Annotated[int, typer.Option("--top-n", min=1)] = 20,
) -> None:
    """Rank runs (per threshold) by tp_rate, mean_pnl_ticks or events_per_hour."""
    rows = query_runs(
        signal=signal,
        dataset_id=dataset_id,
        sort=sort,
        min_signals=min_signals,
        top_n=top_n,
        experiment=experiment,
    )
    print_runs_table(rows, title=f"top {top_n} by {sort} (n_signals >= {min_signals})")
