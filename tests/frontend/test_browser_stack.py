"""The frontend in headless Chromium against the whole stack, started as users do.

``spymaster up --port <free>`` (README quickstart) in a tmp ``SPYMASTER_DATA_ROOT`` with one
experiment run seeded into that data root's results store through the harness's writer.
Then: the heatmap connects with ``serving=ads_pfp_svac_baseline&speed=1`` (10 bins/s), paints,
updates the gauges and shows the serving label; the experiments page lists the run and opens
its detail. Screenshots in ``test-artifacts/frontend-stack/``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from spymaster_shared.paths import results_dir
from tests.frontend.browser import (
    ARTIFACTS,
    build_frontend,
    free_port,
    require_browser_tools,
    run_e2e,
    stop,
    wait_http,
)
from tests.frontend.results_fixture import seed_results

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

SERVING = "ads_pfp_svac_baseline"
DEFAULT_QUERY = "product_type=future_mbo&symbol=MNQH6&dt=2026-02-06&start_time=09:25"


def _stack_available() -> bool:
    return importlib.util.find_spec("spymaster_cli.stack_cmd") is not None


@pytest.mark.skipif(
    not _stack_available(), reason="`spymaster up` (spymaster_cli.stack_cmd) is not built yet"
)
def test_pages_against_the_stack(tmp_path: Path) -> None:
    require_browser_tools()
    build_frontend()
    data_root = tmp_path / "lake"
    run_ids = seed_results(results_dir(data_root))
    artifacts = ARTIFACTS / "frontend-stack"
    artifacts.mkdir(parents=True, exist_ok=True)
    port = free_port()
    exe = Path(sys.executable).with_name("spymaster")
    env = {**os.environ, "SPYMASTER_DATA_ROOT": str(data_root), "PYTHONUNBUFFERED": "1"}
    log = (artifacts / "stack.log").open("w")
    stack = subprocess.Popen(
        [str(exe), "up", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    printed: list[str] = []

    def pump() -> None:
        assert stack.stdout is not None
        for line in stack.stdout:
            log.write(line)
            log.flush()
            printed.append(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", 300, stack)
        url = next(
            (
                m.group(0)
                for ln in printed
                if (m := re.search(r"http://\S+vacuum-pressure\.html\S*", ln))
            ),
            None,
        )
        query = urlsplit(url).query if url else DEFAULT_QUERY
        query = "&".join(p for p in query.split("&") if not p.startswith(("serving=", "speed=")))
        result = run_e2e(
            base,
            artifacts,
            "--vp-query", f"{query}&serving={SERVING}&speed=1",
            "--expect-serving", SERVING,
            "--run-id", run_ids[0],
            "--boot-timeout", "300",
            "--score-timeout", "120",
            "--min-fps", "1",
        )  # fmt: skip
    finally:
        stop(stack, timeout_s=60)
        log.close()
    assert result["perf"]["fps"] > 0, result["perf"]  # the figure: benchmarks/frontend.py
    assert result["heatmap"]["serving"] == SERVING
    assert result["experiments"]["detailRunId"] == run_ids[0]
