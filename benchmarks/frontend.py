"""Frontend benchmark: heatmap frame rate in headless Chromium while 10 bins/s arrive.

Input: the protocol stand-in tests/frontend/fake_gateway.py streaming exactly
``--bins-per-second`` bins (101 rows, serving block) to vacuum-pressure.html; the page is
driven by frontend/tests/e2e.mjs (playwright-core + Debian /usr/bin/chromium, software
rendering). Prints frames/s drawn and bins/s received over the measuring window.
Target (issue "Frontend"): >= 30 frames/s at 10 bins/s.

Usage: uv run python benchmarks/frontend.py [--bins-per-second 10] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.frontend.browser import (  # noqa: E402
    build_frontend,
    free_port,
    require_browser_tools,
    run_e2e,
    stop,
    wait_http,
)
from tests.frontend.results_fixture import seed_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bins-per-second", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    require_browser_tools()
    build_frontend()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        run_ids = seed_results(results)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, str(REPO / "tests/frontend/fake_gateway.py"), "--port", str(port),
             "--bins-per-second", str(args.bins_per_second), "--results-root", str(results)],
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/health", 60, server)
            result = run_e2e(
                base, Path(tmp) / "artifacts",
                "--vp-query", "serving=ads_pfp_svac_baseline&speed=1",
                "--expect-serving", "ads_pfp_svac_baseline", "--run-id", run_ids[0],
                "--measure-seconds", str(args.seconds), "--min-fps", "0",
            )  # fmt: skip
        finally:
            stop(server)
    perf = result["perf"]
    print("input")
    print(f"  fake_gateway.py at {args.bins_per_second:g} bins/s, 101 rows/bin, serving block;")
    print(f"  headless Debian Chromium (software rendering), {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("figures")
    print(f"  frames drawn per second   {perf['fps']:6.1f}   (target >= 30)")
    print(f"  bins received per second  {perf['binsPerSecond']:6.1f}")
    print(f"  page's own fps counter    {perf['pageFps']:6.1f}   over {perf['seconds']:.1f} s")


if __name__ == "__main__":
    main()
