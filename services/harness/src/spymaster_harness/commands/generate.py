"""``harness generate <pipeline.yaml>``: write the immutable dataset of a PipelineSpec."""

from __future__ import annotations

from pathlib import Path

import typer

from spymaster_harness.cli import app


@app.command()
def generate(
    pipeline: str = typer.Argument(..., help="PipelineSpec YAML path or name in configs/pipelines"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
) -> None:
    """Generate (idempotently) the dataset of PIPELINE and print its id and directory."""
    from spymaster_harness.datasets import generate_dataset
    from spymaster_shared.config import load_pipeline
    from spymaster_shared.paths import dataset_dir

    spec = load_pipeline(pipeline)
    dataset_id = spec.dataset_id()
    existed = dataset_dir(dataset_id).exists()
    path: Path = generate_dataset(spec, progress=not quiet)
    state = "exists (verified)" if existed else "written"
    typer.echo(f"dataset {dataset_id} {state}: {path}")
