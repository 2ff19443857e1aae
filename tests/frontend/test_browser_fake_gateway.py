"""The frontend in headless Chromium against the protocol stand-in (fake_gateway.py).

Deterministic: exactly 10 bins/s with a serving block; the real stack is
test_browser_stack.py. The frame rate is a figure of benchmarks/frontend.py, not an
assertion here (timed assertions in tests are flaky on a loaded machine).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_pages_against_fake_gateway(tmp_path: Path) -> None:
    require_browser_tools()
    build_frontend()
    results = tmp_path / "results"
    run_ids = seed_results(results)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_gateway.py")),
         "--port", str(port), "--bins-per-second", "10", "--results-root", str(results)],
        start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", 60, server)
        result = run_e2e(
            base,
            ARTIFACTS / "frontend-fake-gateway",
            "--vp-query", "serving=ads_pfp_svac_baseline&speed=1",
            "--expect-serving", "ads_pfp_svac_baseline",
            "--run-id", run_ids[0],
            "--measure-seconds", "5",
            "--min-fps", "1",
        )  # fmt: skip
    finally:
        stop(server)
    perf = result["perf"]
    assert perf["fps"] > 0 and perf["binsPerSecond"] > 0, perf  # drawing keeps up with bins
    assert result["experiments"]["detailRunId"] == run_ids[0]
    assert "pipeline=mnq_60m_baseline" in result["experiments"]["streamUrl"]
