"""The ``spymaster`` command. Each sub-command lives in its own module and registers here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="spymaster",
    help="Spymaster: MBO order-book research and live signals on NATS.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Spymaster: MBO order-book research and live signals on NATS."""


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    import importlib

    for module in ("spymaster_cli.synth_cmd", "spymaster_cli.stack_cmd"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register()
