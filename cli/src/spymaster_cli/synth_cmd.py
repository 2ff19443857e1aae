"""``spymaster synth``: write a synthetic MNQ-like MBO session as a genuine DBN file.

Without arguments it covers the baseline pipeline's capture window plus its warmup
(with a margin) and writes into the data-root layout where replay looks for it.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from spymaster_cli.main import app
from spymaster_shared.errors import SpymasterError

DEFAULT_PIPELINE = "mnq_60m_baseline"
MARGIN = dt.timedelta(minutes=2)

_err = Console(stderr=True)


def _parse_clock(value: str, what: str) -> dt.time:
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    raise typer.BadParameter(f"{what} {value!r} must be HH:MM or HH:MM:SS (New York time)")


def _default_window(pipeline: str) -> tuple[str, str, dt.date, dt.time, dt.time, Path]:
    """Symbol, product type, date and NY start/end covering warmup + capture of ``pipeline``."""
    from spymaster_shared.config import load_pipeline, resolve_engine_config
    from spymaster_shared.config.runtime import NEW_YORK
    from spymaster_shared.synth import default_synth_path

    spec = load_pipeline(pipeline)
    cfg = resolve_engine_config(spec)
    tz = NEW_YORK

    def ny(ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ns / 1e9, tz=tz)

    start = ny(cfg.warmup_start_ns) - MARGIN
    end = ny(cfg.capture_end_ns) + MARGIN
    if start.date() != spec.capture.date or end.date() != spec.capture.date:
        raise typer.BadParameter(f"pipeline {pipeline}: warmup + capture must stay within one day")
    start_clock = start.time().replace(second=0, microsecond=0)
    end_clock = (end + dt.timedelta(seconds=59)).time().replace(second=0, microsecond=0)
    return (
        spec.capture.symbol,
        spec.capture.product_type,
        spec.capture.date,
        start_clock,
        end_clock,
        default_synth_path(spec.capture),
    )


@app.command("synth")
def synth(
    symbol: Annotated[str | None, typer.Option(help="Contract symbol, e.g. MNQH6.")] = None,
    date: Annotated[str | None, typer.Option(help="Session date, YYYY-MM-DD.")] = None,
    start: Annotated[str | None, typer.Option(help="Start, New York time (HH:MM).")] = None,
    end: Annotated[str | None, typer.Option(help="End, New York time (HH:MM).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 7,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write (.dbn or .dbn.zst)."),
    ] = None,
    pipeline: Annotated[
        str, typer.Option(help="Pipeline whose window (plus warmup) is the default.")
    ] = DEFAULT_PIPELINE,
    orphan_rate: Annotated[float, typer.Option(help="Orphan cancels per event.")] = 0.0,
    mid_session_snapshot: Annotated[
        bool, typer.Option(help="Add a clear + snapshot halfway through.")
    ] = False,
    second_contract: Annotated[
        bool, typer.Option(help="Also write a thinner second contract (MNQM6).")
    ] = False,
) -> None:
    """Write a synthetic MNQ-like MBO session (genuine DBN, deterministic by seed)."""
    try:
        path = _run(
            symbol=symbol,
            date=date,
            start=start,
            end=end,
            seed=seed,
            output=output,
            pipeline=pipeline,
            orphan_rate=orphan_rate,
            mid_session_snapshot=mid_session_snapshot,
            second_contract=second_contract,
        )
    except SpymasterError as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "parameters"
        msg = str(err.get("msg", exc)).removeprefix("Value error, ")
        _err.print(f"[red]error:[/red] synth {where}: {msg}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    typer.echo(str(path))


def _run(
    *,
    symbol: str | None,
    date: str | None,
    start: str | None,
    end: str | None,
    seed: int,
    output: Path | None,
    pipeline: str,
    orphan_rate: float,
    mid_session_snapshot: bool,
    second_contract: bool,
) -> Path:
    from spymaster_shared.config.pipeline import CaptureConfig
    from spymaster_shared.synth import SynthParams, default_synth_path, write_synthetic

    need_default = output is None or None in (symbol, date, start, end)
    if need_default:
        d_symbol, d_pt, d_date, d_start, d_end, _ = _default_window(pipeline)
    else:
        d_symbol, d_pt, d_date, d_start, d_end = "MNQH6", "future_mbo", None, None, None
    try:
        day = dt.date.fromisoformat(date) if date else d_date
    except ValueError:
        raise typer.BadParameter(f"--date {date!r} must be YYYY-MM-DD") from None
    params = SynthParams(
        symbol=symbol or d_symbol,
        date=day,
        start=_parse_clock(start, "--start") if start else d_start,
        end=_parse_clock(end, "--end") if end else d_end,
        seed=seed,
        orphan_rate=orphan_rate,
        mid_session_snapshot=mid_session_snapshot,
        second_contract=second_contract,
    )
    if output is None:
        capture = CaptureConfig(
            product_type=d_pt,
            symbol=params.symbol,
            dt=params.date.isoformat(),
            start_time=params.start.strftime("%H:%M:%S"),
            end_time=params.end.strftime("%H:%M:%S"),
        )
        output = default_synth_path(capture)
    minutes = (
        dt.datetime.combine(params.date, params.end)
        - dt.datetime.combine(params.date, params.start)
    ).total_seconds() / 60
    t0 = time.perf_counter()
    with _err.status(
        f"synthesizing {params.symbol} {params.date} {params.start:%H:%M}-{params.end:%H:%M} "
        f"NY ({minutes:.0f} min, seed {params.seed}) -> {output}"
    ):
        path = write_synthetic(params, output)
    size_mb = path.stat().st_size / 1e6
    _err.print(
        f"[green]wrote[/green] {path} ({size_mb:.1f} MB) in {time.perf_counter() - t0:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    return path
