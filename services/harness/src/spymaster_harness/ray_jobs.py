"""Ray Jobs API: ``harness submit`` / ``jobs`` / ``logs`` / ``stop`` against a cluster's
dashboard address (``http://HOST:8265``, default ``$RAY_ADDRESS``)."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from spymaster_harness.errors import RayUnavailableError
from spymaster_shared.config.loader import resolve_config_path
from spymaster_shared.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[4]
# Never uploaded with the working_dir: data, environments, build output, VCS.
WORKING_DIR_EXCLUDES = [
    ".git",
    ".venv",
    "lake",
    "mlruns",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "frontend/node_modules",
    "frontend/dist",
    "test-artifacts",
    "*.sqlite",
    "*.db",
]
PY_MODULE_DIRS = (
    "shared/src/spymaster_shared",
    "services/engine/src/spymaster_engine",
    "services/harness/src/spymaster_harness",
)


def resolve_address(address: str | None) -> str:
    addr = address or os.environ.get("RAY_ADDRESS")
    if not addr:
        raise RayUnavailableError(
            "no Ray address: pass --address http://HOST:8265 or set RAY_ADDRESS"
        )
    if not addr.startswith(("http://", "https://")):
        raise RayUnavailableError(
            f"Ray Jobs address {addr!r} must be the dashboard URL, e.g. http://HOST:8265"
        )
    return addr


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
AGENT_RETRIES = 5
AGENT_RETRY_S = 3.0


def auth_token(address: str) -> tuple[str, str] | None:
    """(token, where it came from) to present to ``address``, as Ray looks for it:
    ``$RAY_AUTH_TOKEN``, the file ``$RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token`` (written
    by a local Ray >= 2.59). The default file belongs to this machine's clusters: it is only
    offered to a loopback address, or anywhere once ``RAY_AUTH_MODE=token`` opts in as Ray's
    own clients do."""
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if token:
        return token, "$RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        try:
            text = Path(path).expanduser().read_text().strip()
        except OSError:
            raise RayUnavailableError(f"cannot read RAY_AUTH_TOKEN_PATH {path}") from None
        return (text, path) if text else None
    host = urlsplit(address).hostname or ""
    if host not in LOOPBACK_HOSTS and os.environ.get("RAY_AUTH_MODE") != "token":
        return None
    default = Path.home() / ".ray" / "auth_token"
    try:
        text = default.read_text().strip()
    except OSError:
        return None
    return (text, str(default)) if text else None


def client(address: str | None) -> Any:
    """A Jobs API client; on a cluster with token authentication (Ray's default for local
    clusters since 2.59) the request is retried once with the token, when one is found."""
    from ray.job_submission import JobSubmissionClient

    addr = resolve_address(address)
    try:
        return JobSubmissionClient(addr)
    except Exception as exc:
        first = exc
    if not _needs_token(first):
        raise RayUnavailableError(f"cannot reach Ray at {addr}: {_short(first)}") from None
    found = auth_token(addr)
    if found is None:
        raise RayUnavailableError(
            f"Ray at {addr} requires a token and none was found: set RAY_AUTH_TOKEN "
            "(`ray get-auth-token` on the head prints it)"
        ) from None
    token, source = found
    try:
        return JobSubmissionClient(addr, headers={"Authorization": f"Bearer {token}"})
    except Exception as exc:
        if _needs_token(exc):
            raise RayUnavailableError(f"Ray at {addr} rejected the token from {source}") from None
        raise RayUnavailableError(f"cannot reach Ray at {addr}: {_short(exc)}") from None


def _needs_token(exc: BaseException) -> bool:
    import ray.exceptions

    auth_error = getattr(ray.exceptions, "AuthenticationError", ())
    if auth_error and isinstance(exc, auth_error):
        return True
    text = str(exc)  # older Ray: the dashboard's 401 text
    return "Unauthorized" in text or "Authentication required" in text


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(exc).__name__


def build_job(
    experiment: str, *, workers: int | None = None, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Entry point + runtime_env of a submitted sweep (checked locally before upload)."""
    from spymaster_harness.sweep.plan import load_plan

    path = resolve_config_path("experiments", experiment).resolve()
    load_plan(path)  # bad specs fail here, before anything is uploaded
    try:
        rel = path.relative_to(REPO_ROOT)
    except ValueError:
        raise ConfigError(
            f"the experiment must live inside the project ({REPO_ROOT}) to be uploaded",
            file=path,
        ) from None
    args = ["harness", "run", str(rel), "--ray-address", "auto", "--no-progress"]
    if workers:
        args += ["--workers", str(workers)]
    env = {"SPYMASTER_CONFIG_ROOT": "configs", **(extra_env or {})}
    return {
        "entrypoint": shlex.join(args),
        "runtime_env": {
            "working_dir": str(REPO_ROOT),
            "excludes": WORKING_DIR_EXCLUDES,
            "py_modules": [str(REPO_ROOT / d) for d in PY_MODULE_DIRS],
            "env_vars": env,
        },
    }


def submit(
    experiment: str,
    *,
    address: str | None,
    workers: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> str:
    job = build_job(experiment, workers=workers, extra_env=extra_env)
    c = client(address)
    for attempt in range(AGENT_RETRIES + 1):
        try:
            return c.submit_job(entrypoint=job["entrypoint"], runtime_env=job["runtime_env"])
        except Exception as exc:
            # a head that has just started answers before its job agent is up (HTTP 503)
            if "No available agent" in str(exc) and attempt < AGENT_RETRIES:
                time.sleep(AGENT_RETRY_S)
                continue
            raise RayUnavailableError(f"job submission failed: {_short(exc)}") from None
    raise AssertionError("unreachable")


def list_jobs(address: str | None) -> list[dict[str, Any]]:
    c = client(address)
    try:
        jobs = c.list_jobs()
    except Exception as exc:
        raise RayUnavailableError(f"cannot list jobs: {_short(exc)}") from None
    return [
        {
            "submission_id": j.submission_id or j.job_id,
            "status": str(getattr(j.status, "value", j.status)),
            "entrypoint": j.entrypoint,
            "start_time": j.start_time,
            "end_time": j.end_time,
            "message": j.message or "",
        }
        for j in jobs
    ]


def job_logs(job_id: str, address: str | None) -> str:
    c = client(address)
    try:
        return c.get_job_logs(job_id)
    except Exception as exc:
        raise RayUnavailableError(f"no logs for job {job_id!r}: {_short(exc)}") from None


def stop_job(job_id: str, address: str | None) -> bool:
    c = client(address)
    try:
        return bool(c.stop_job(job_id))
    except Exception as exc:
        raise RayUnavailableError(f"cannot stop job {job_id!r}: {_short(exc)}") from None
