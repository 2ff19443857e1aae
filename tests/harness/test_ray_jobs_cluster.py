"""``harness submit`` / ``jobs`` / ``logs`` / ``stop`` against a real Ray cluster.

A local Ray head with its dashboard (the Jobs API) is started on free ports, as a user would
start a cluster head; the sweep is submitted through the CLI, uploaded as the job's
runtime_env (the project as working_dir + py_modules), run by the cluster, and its results
land in the results store. Skipped when no Ray dashboard can start here, except under
``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, write_pipeline
from tests.harness.test_harness_cli import _experiment, _serving

pytestmark = pytest.mark.slow

HEAD_START_TIMEOUT_S = 120
JOB_TIMEOUT_S = 420


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dashboard_up(url: str) -> bool:
    """The dashboard answers (401 counts: Ray >= 2.59 puts local clusters behind a token,
    which the Jobs client finds on its own, see docs/harness.md)."""
    try:
        with urllib.request.urlopen(f"{url}/api/version", timeout=2) as r:
            return r.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, str]]:
    """A Ray head with its dashboard on free ports and token auth (a token of its own, not
    whatever ~/.ray holds); yields (Jobs API address, token)."""
    ray_exe = Path(sys.executable).with_name("ray")
    token = uuid.uuid4().hex
    tmp = Path(tempfile.mkdtemp(prefix="rj", dir="/tmp"))  # short: Ray's socket paths
    dash = _free_port()
    url = f"http://127.0.0.1:{dash}"
    cmd = [
        str(ray_exe), "start", "--head", "--block", "--disable-usage-stats",
        f"--port={_free_port()}", "--node-ip-address=127.0.0.1",
        "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}",
        f"--ray-client-server-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
        "--num-cpus=2", f"--temp-dir={tmp}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    proc = None
    try:
        with open(tmp / "head.log", "wb") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + HEAD_START_TIMEOUT_S
        while not _dashboard_up(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (tmp / "head.log").read_text(errors="replace")[-2000:]
                if os.environ.get("CI", "").lower() == "true":
                    pytest.fail(f"Ray head with dashboard did not start:\n{tail}")
                pytest.skip(f"Ray head with dashboard did not start: {tail[-1500:]}")
            time.sleep(1)
        yield url, token
    finally:
        # --block: SIGTERM makes `ray start` stop every process it started
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def project_configs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config root *inside the project* (a submitted job uploads the project), removed after."""
    for stale in REPO.glob(".ray-job-test-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    root = REPO / f".ray-job-test-{uuid.uuid4().hex[:8]}" / "configs"
    shutil.copytree(REPO / "configs", root)
    monkeypatch.setenv("SPYMASTER_CONFIG_ROOT", str(root))
    try:
        yield root
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def _jobs(url: str) -> dict[str, dict]:
    out = run_cli("harness", "jobs", "--address", url, "--json").stdout
    return {j["submission_id"]: j for j in map(json.loads, out.splitlines())}


def _wait_for(url: str, job_id: str, states: set[str], timeout: float) -> str:
    from spymaster_harness.ray_jobs import list_jobs

    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = next((j["status"] for j in list_jobs(url) if j["submission_id"] == job_id), "")
        if status in states:
            return status
        time.sleep(3)
    logs = run_cli("harness", "logs", job_id, "--address", url, check=False)
    raise AssertionError(
        f"job {job_id} is {status or 'unknown'}, not {states}:\n{logs.stdout[-3000:]}"
    )


def _submit(url: str, exp: Path, config_root: Path, data_root: Path) -> str:
    res = run_cli(
        "harness", "submit", str(exp), "--address", url, "--workers", "1",
        "--env", f"SPYMASTER_CONFIG_ROOT={config_root.relative_to(REPO)}",
        "--env", f"SPYMASTER_DATA_ROOT={data_root}", check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    m = re.search(r"submitted (\S+)", res.stdout)
    assert m, res.stdout + res.stderr
    return m.group(1)


def test_submit_jobs_logs_stop_on_a_live_cluster(
    ray_cluster: tuple[str, str],
    project_configs: Path,
    synthetic_dbn: Path,
    _harness_data_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spymaster_shared.results_store import query_runs

    (url, token), root, data_root = ray_cluster, project_configs, _harness_data_root
    # no token: one line that says what to do; a wrong one: one line naming its source
    no_home = {**os.environ, "HOME": str(tmp_path)}
    no_home.pop("RAY_AUTH_TOKEN", None)
    res = run_cli("harness", "jobs", "--address", url, env=no_home, check=False)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "requires a token and none was found" in res.stderr
    res = run_cli("harness", "jobs", "--address", url, check=False,
                  env={**no_home, "RAY_AUTH_TOKEN": "wrong"})  # fmt: skip
    assert res.returncode == 2 and "rejected the token from $RAY_AUTH_TOKEN" in res.stderr
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)

    write_pipeline(root, "small_test", synthetic_dbn)
    _serving(root, "small_test")
    exp = _experiment(root, "cluster_exp", tracking={"backend": "none"})
    # the dataset exists before the job starts: the job reads it, it does not regenerate it
    run_cli("harness", "generate", "small_test", "-q")

    job_id = _submit(url, exp, root, data_root)
    status = _wait_for(url, job_id, {"SUCCEEDED", "FAILED", "STOPPED"}, JOB_TIMEOUT_S)
    logs = run_cli("harness", "logs", job_id, "--address", url).stdout
    assert status == "SUCCEEDED", logs[-4000:]
    assert "8 runs" in logs, logs[-3000:]
    rows = query_runs(min_signals=0, top_n=100)
    assert len({r["run_id"] for r in rows}) == 8  # the cluster's results, in our results store

    stopped = _submit(url, exp, root, data_root)
    res = run_cli("harness", "stop", stopped, "--address", url)
    assert stopped in res.stdout
    assert _wait_for(url, stopped, {"STOPPED", "SUCCEEDED", "FAILED"}, 120) == "STOPPED"
    assert {job_id, stopped} <= set(_jobs(url))
    table = run_cli("harness", "jobs", "--address", url).stdout
    assert "Ray jobs" in table and "SUCCEEDED" in table
    bad = run_cli("harness", "logs", "no-such-job", "--address", url, check=False)
    assert bad.returncode == 2 and "no-such-job" in bad.stderr
