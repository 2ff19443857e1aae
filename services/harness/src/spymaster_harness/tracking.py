"""MLflow tracking: one parent run per experiment invocation, written by the driver only.

Tracking URI: the spec's ``tracking.tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else a
local sqlite database ``sqlite:///<data_root>/research/vp_harness/mlflow.db`` (artifacts
next to it in ``mlartifacts/``). ``tracking.backend: none`` disables tracking.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from spymaster_harness.errors import TrackingError
from spymaster_shared.config import TrackingConfig
from spymaster_shared.paths import data_root

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100


def harness_dir() -> Path:
    return (data_root() / "research" / "vp_harness").resolve()


def resolve_tracking_uri(tracking: TrackingConfig) -> str:
    if tracking.tracking_uri:
        return tracking.tracking_uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{harness_dir() / 'mlflow.db'}"


class Tracker:
    """A connected MLflow client + experiment id; ``None``-safe via :func:`open_tracker`."""

    def __init__(self, client: Any, experiment_id: str, uri: str):
        self.client = client
        self.experiment_id = experiment_id
        self.uri = uri

    def log_sweep(
        self,
        *,
        run_name: str,
        params: dict[str, Any],
        summary: dict[str, float],
        rows: list[dict[str, Any]],
        min_signals: int,
        tags: dict[str, str],
    ) -> str:
        """One parent run: params, summary metrics, one point per run (its best threshold)
        as stepped metrics, and the full (run × threshold) table as a parquet artifact."""
        from mlflow.entities import Metric, Param, RunTag

        try:
            run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
            run_id = run.info.run_id
            items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
            for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
                self.client.log_batch(run_id, params=items[i : i + MAX_PARAMS_PER_BATCH])
            now = int(time.time() * 1000)
            metrics = [Metric(k, float(v), now, 0) for k, v in sorted(summary.items())]
            for step, row in enumerate(_best_per_run(rows, min_signals)):
                for key in ("tp_rate", "mean_pnl_ticks", "events_per_hour", "n_signals"):
                    metrics.append(Metric(f"sweep.{key}", float(row[key]), now, step))
            for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
                self.client.log_batch(run_id, metrics=metrics[i : i + MAX_METRICS_PER_BATCH])
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "sweep_results.parquet"
                _write_table(rows, path)
                self.client.log_artifact(run_id, str(path))
            self.client.log_batch(run_id, tags=[RunTag("n_rows", str(len(rows)))])
            self.client.set_terminated(run_id, "FINISHED")
            return run_id
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(f"MLflow at {self.uri}: logging failed: {_short(exc)}") from None


def _best_per_run(rows: list[dict[str, Any]], min_signals: int) -> list[dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        ok = row["n_signals"] >= min_signals
        cur = best.get(row["run_id"])
        rank = (ok, row["tp_rate"], row["n_signals"])
        if cur is None or rank > (
            cur["n_signals"] >= min_signals,
            cur["tp_rate"],
            cur["n_signals"],
        ):
            best[row["run_id"]] = row
    return [best[k] for k in sorted(best)]


def _write_table(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def open_tracker(tracking: TrackingConfig) -> Tracker | None:
    """Connect (and create the experiment) before any work; one clear error if unreachable."""
    if tracking.backend == "none":
        return None
    uri = resolve_tracking_uri(tracking)
    if uri.startswith(("http://", "https://")):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        _check_http(uri)
    elif uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(tracking.experiment_name)
        if exp is None:
            artifact_location = None
            if not uri.startswith(("http://", "https://")):
                artifact_location = (harness_dir() / "mlartifacts").as_uri()
            experiment_id = client.create_experiment(
                tracking.experiment_name, artifact_location=artifact_location
            )
        else:
            experiment_id = exp.experiment_id
    except Exception as exc:
        raise TrackingError(f"MLflow tracking at {uri} unusable: {_short(exc)}") from None
    return Tracker(client, experiment_id, uri)


def _check_http(uri: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as resp:
            resp.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(f"MLflow tracking server {uri} unreachable: {reason}") from None
