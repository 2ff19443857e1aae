"""Helpers of the browser tests: build the frontend, find Chromium, run frontend/tests/e2e.mjs.

The browser is Debian's ``/usr/bin/chromium`` driven by the ``playwright-core`` npm package;
Playwright never downloads a browser (``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_browser_tools() -> str:
    """Path of ``node``; skips (outside CI) when node or Chromium is missing."""
    node = shutil.which("node")
    missing = [w for w, ok in (("node", node), (str(CHROMIUM), CHROMIUM.exists())) if not ok]
    if missing:
        reason = f"browser test needs {', '.join(missing)} (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return node  # type: ignore[return-value]


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def build_frontend() -> Path:
    """``npm ci`` when node_modules is missing, ``npm run build`` when dist is stale."""
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    npm = shutil.which("npm") or "npm"
    if not (FRONTEND / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, env=env, check=True)
    sources = [FRONTEND / "src", *FRONTEND.glob("*.html"), FRONTEND / "vite.config.ts"]
    dist = FRONTEND / "dist"
    built = dist / "vacuum-pressure.html"
    if not built.exists() or built.stat().st_mtime < _newest_mtime(sources):
        subprocess.run([npm, "run", "build"], cwd=FRONTEND, env=env, check=True)
    return dist


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as res:
                if res.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s ({last})")


def run_e2e(base_url: str, artifacts: Path, *args: str, timeout_s: float = 420) -> dict[str, Any]:
    """Run the browser driver; returns its JSON result (asserting it passed)."""
    node = require_browser_tools()
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [node, "tests/e2e.mjs", "--base-url", base_url, "--artifacts", str(artifacts), *args]
    proc = subprocess.run(
        cmd, cwd=FRONTEND, capture_output=True, text=True, timeout=timeout_s,
        env={**os.environ, "CHROMIUM_PATH": str(CHROMIUM)},
    )  # fmt: skip
    (artifacts / "e2e-stderr.log").write_text(proc.stderr)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"e2e driver printed no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert result["ok"], f"browser test failed: {result.get('error')}\n{proc.stderr[-3000:]}"
    return result


def stop(proc: subprocess.Popen, timeout_s: float = 20) -> None:
    """Stop a server we started in its own session: SIGTERM its group, then SIGKILL."""
    if proc.poll() is not None:
        return
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
