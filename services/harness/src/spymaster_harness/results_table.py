"""Rich rendering of ranked (run, threshold) rows from the results store."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table


def _params(row: dict[str, Any]) -> str:
    sc = row["scoring"]
    scoring = f"z{sc['zscore_window_bins']} w{list(sc['derivative_weights'])} t{sc['tanh_scale']}"
    sig = json.dumps(
        {**row["signal_params"], **{f"w_{k}": v for k, v in row["signal_weights"].items()}},
        separators=(",", ":"),
    )
    return f"{scoring} {sig}"


def print_runs_table(
    rows: list[dict[str, Any]], *, title: str, console: Console | None = None
) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # pipes and logs: do not squeeze the table to 80 columns
            console = Console(width=220)
    if not rows:
        console.print("no runs match")
        return
    table = Table(title=title, show_lines=False)
    for col, justify in (
        ("#", "right"),
        ("run_id", "left"),
        ("signal", "left"),
        ("thr", "right"),
        ("tp/sl", "right"),
        ("cd", "right"),
        ("n_signals", "right"),
        ("tp_rate", "right"),
        ("sl_rate", "right"),
        ("timeout", "right"),
        ("mean_pnl", "right"),
        ("ev/h", "right"),
        ("params", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold", no_wrap=col in ("run_id", "signal"))
    for i, r in enumerate(rows, 1):
        table.add_row(
            str(i),
            r["run_id"],
            r["signal_name"],
            f"{r['threshold']:.2f}",
            f"{r['tp_ticks']}/{r['sl_ticks']}",
            str(r["cooldown_bins"]),
            str(r["n_signals"]),
            f"{r['tp_rate']:.3f}",
            f"{r['sl_rate']:.3f}",
            f"{r['timeout_rate']:.3f}",
            f"{r['mean_pnl_ticks']:.2f}",
            f"{r['events_per_hour']:.1f}",
            _params(r),
        )
    console.print(table)
