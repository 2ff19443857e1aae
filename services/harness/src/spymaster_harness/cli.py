"""The ``harness`` command. Each sub-command lives in its own module under ``commands/``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from spymaster_shared.errors import SpymasterError

app = typer.Typer(
    name="harness",
    help="Spymaster experiment harness: datasets, sweeps on Ray, TP/SL eval, MLflow, promote.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Spymaster experiment harness."""


def _register() -> None:
    from spymaster_harness import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}")


def main() -> None:
    """Entry point: every SpymasterError becomes one line on stderr and exit code 2."""
    _register()
    try:
        app(standalone_mode=False)
    except SpymasterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, click.exceptions.Abort):
            raise SystemExit(130) from None
        raise
