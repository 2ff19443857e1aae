"""``harness list-datasets``: the datasets under the data root."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from spymaster_harness.cli import app


@app.command("list-datasets")
def list_datasets_cmd() -> None:
    """List complete datasets under $SPYMASTER_DATA_ROOT/research/vp_immutable."""
    from spymaster_harness.datasets import list_datasets

    rows = list_datasets()
    columns = ("dataset_id", "pipeline", "symbol", "dt", "start_time", "end_time", "n_bins")
    table = Table(title=f"{len(rows)} dataset(s)")
    for col in columns:
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(*(str(r[c]) for c in columns))
    # ids must print whole, also when stdout is a pipe of default width
    Console(width=None if sys.stdout.isatty() else 160).print(table)
