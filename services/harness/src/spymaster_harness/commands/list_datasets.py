"""``harness list-datasets``: the datasets under the data root."""

from __future__ import annotations

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
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) for c in columns))
    Console().print(table)
