"""``harness list-signals``: every registered signal with its params, defaults and ranges."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from spymaster_harness.cli import app


@app.command("list-signals")
def list_signals_cmd() -> None:
    """Table of registered signals (built-in and ML) with their parameters."""
    from spymaster_harness.signals_ml import register_ml_signals
    from spymaster_shared.scoring.signals import signal_specs

    register_ml_signals()
    table = Table(title="signals", show_lines=True)
    for col in ("signal", "param", "kind", "default", "range", "weights"):
        table.add_column(col, overflow="fold")
    for spec in signal_specs():
        weights = ", ".join(f"{k}={v}" for k, v in spec.weights.items()) or "-"
        params = list(spec.params.items()) or [("-", None)]
        for i, (name, p) in enumerate(params):
            first = i == 0
            table.add_row(
                spec.name if first else "",
                name,
                p.kind if p else "",
                repr(p.default) if p else "",
                f"[{p.min}, {p.max}]" if p else "",
                weights if first else "",
            )
    console = Console()
    console.print(table)
    for spec in signal_specs():
        console.print(f"[bold]{spec.name}[/bold]: {spec.description}")
