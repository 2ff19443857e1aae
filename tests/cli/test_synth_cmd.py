"""``spymaster synth``: explicit window, default window from the baseline pipeline, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spymaster_cli import synth_cmd
from spymaster_cli.main import app
from spymaster_shared.config import load_pipeline, resolve_engine_config
from spymaster_shared.config.runtime import ny_to_utc_ns
from spymaster_shared.dbn.reader import open_mbo, read_mbo
from spymaster_shared.dbn.sources import capture_files


def cli() -> typer.Typer:
    """The synth command under a command group (as in ``spymaster``, whatever else it has)."""
    group = typer.Typer()
    group.callback()(lambda: None)
    group.command("synth")(synth_cmd.synth)
    return group


def test_registered_on_the_spymaster_app() -> None:
    names = [c.name for c in app.registered_commands]
    assert "synth" in names


def test_explicit_window(tmp_path: Path) -> None:
    out = tmp_path / "s.dbn.zst"
    args = ["synth", "--symbol", "MNQH6", "--date", "2026-02-06", "--start", "09:30",
            "--end", "09:31", "--seed", "3", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    info = open_mbo(out)
    assert info.start_ns == ny_to_utc_ns(dt.date(2026, 2, 6), dt.time(9, 30))
    assert info.end_ns == ny_to_utc_ns(dt.date(2026, 2, 6), dt.time(9, 31))
    assert len(read_mbo(out, "MNQH6")) > 60_000


def test_default_window_covers_baseline_with_warmup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPYMASTER_DATA_ROOT", str(tmp_path))
    written: dict = {}

    # A 100-minute session is too slow for a unit test: record the params instead.
    def fake_write(params: object, path: Path) -> Path:
        written["params"] = params
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"")
        return Path(path)

    monkeypatch.setattr("spymaster_shared.synth.write_synthetic", fake_write)
    result = CliRunner().invoke(cli(), ["synth"])
    assert result.exit_code == 0, result.output
    params = written["params"]
    spec = load_pipeline("mnq_60m_baseline")
    cfg = resolve_engine_config(spec)
    start = ny_to_utc_ns(params.date, params.start)
    end = ny_to_utc_ns(params.date, params.end)
    assert params.symbol == spec.capture.symbol
    assert start <= cfg.warmup_start_ns - 60 * 10**9
    assert end >= cfg.capture_end_ns + 60 * 10**9
    assert end - start <= cfg.capture_end_ns - cfg.warmup_start_ns + 10 * 60 * 10**9
    path = Path(result.stdout.strip().splitlines()[-1])
    assert capture_files(spec.capture) == [path]


def test_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_window = ["synth", "--symbol", "MNQH6", "--date", "2026-02-06", "--start", "10:00",
                  "--end", "09:00", "-o", str(tmp_path / "x.dbn")]  # fmt: skip
    result = runner.invoke(cli(), bad_window)
    assert result.exit_code != 0
    assert "end must be after start" in result.output
    bad_symbol = ["synth", "--symbol", "../x", "--date", "2026-02-06", "--start", "09:00",
                  "--end", "09:01", "-o", str(tmp_path / "x.dbn")]  # fmt: skip
    result = runner.invoke(cli(), bad_symbol)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "symbol '../x' must match" in result.output
    assert not (tmp_path / "x.dbn").exists()
