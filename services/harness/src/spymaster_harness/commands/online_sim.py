"""``harness online-sim --signal S --dataset-id D --bin-budget-ms B``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spymaster_harness.cli import app


@app.command("online-sim")
def online_sim_cmd(
    signal: Annotated[str, typer.Option("--signal", help="registered signal name")],
    dataset_id: Annotated[str, typer.Option("--dataset-id", help="dataset to replay")],
    bin_budget_ms: Annotated[float, typer.Option("--bin-budget-ms", min=0.001)] = 100.0,
    serving: Annotated[
        str | None,
        typer.Option("--serving", help="take scoring + signal params from this serving config"),
    ] = None,
    max_bins: Annotated[int | None, typer.Option("--max-bins", min=1)] = None,
) -> None:
    """Per-bin latency of scorer + signal (incremental, as served live) against a budget."""
    from spymaster_harness.datasets import load_dataset
    from spymaster_harness.online_sim import default_serving_for, simulate
    from spymaster_shared.config import load_serving
    from spymaster_shared.errors import ConfigError

    spec = load_serving(serving) if serving else default_serving_for(signal)
    if spec is not None and spec.signal.name != signal:
        raise ConfigError(
            f"serving {spec.name!r} uses signal {spec.signal.name!r}, not {signal!r}",
            field="serving",
        )
    ds = load_dataset(dataset_id)
    frames = ds.frames
    width = int(frames.bins["bin_end_ns"][0] - frames.bins["bin_start_ns"][0]) // 1_000_000
    rep = simulate(
        frames,
        signal=signal,
        params=dict(spec.signal.params) if spec else None,
        weights=dict(spec.signal.weights) if spec else None,
        scoring=spec.scoring if spec else None,
        cell_width_ms=max(width, 1),
        budget_ms=bin_budget_ms,
        max_bins=max_bins,
    )
    table = Table(title=f"online-sim {signal} on {dataset_id} ({frames.n_rows} cells)")
    for col in ("bins", "p50 ms", "p99 ms", "max ms", "mean ms", "budget ms", "misses"):
        table.add_column(col, justify="right")
    table.add_row(
        str(rep.n_bins),
        f"{rep.p50_ms:.3f}",
        f"{rep.p99_ms:.3f}",
        f"{rep.max_ms:.3f}",
        f"{rep.mean_ms:.3f}",
        f"{rep.budget_ms:g}",
        f"{rep.misses} ({rep.miss_rate:.2%})",
    )
    Console().print(table)
    if rep.misses:
        raise typer.Exit(1)
