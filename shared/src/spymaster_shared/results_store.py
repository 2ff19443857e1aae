"""The harness results store: ``runs_meta`` (one row per run) + ``runs`` (one row per run ×
threshold), as parquet part files under ``paths.results_dir()``.

Writers (N concurrent Ray workers) each write whole part files atomically (temp file +
``os.replace``), named by a deterministic key of their content, so a retried task rewrites
the same file instead of adding a second copy. Readers union all parts with
``pyarrow.dataset`` and keep one row per ``run_id`` (per threshold), the newest write. No
Ray, no MLflow: the gateway reads this module directly.

Layout::

    <results_dir>/runs_meta/part-<key>.parquet
    <results_dir>/runs/part-<key>.parquet
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spymaster_shared.config.hashing import stable_short_hash
from spymaster_shared.errors import SpymasterError
from spymaster_shared.names import check_name
from spymaster_shared.paths import results_dir

SORT_KEYS = ("tp_rate", "mean_pnl_ticks", "events_per_hour")

RUNS_META_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("experiment_name", pa.string()),
        ("dataset_id", pa.string()),
        ("pipeline_name", pa.string()),
        ("serving_name", pa.string()),
        ("signal_name", pa.string()),
        ("scoring_json", pa.string()),
        ("signal_params_json", pa.string()),
        ("signal_weights_json", pa.string()),
        ("tp_ticks", pa.int32()),
        ("sl_ticks", pa.int32()),
        ("cooldown_bins", pa.int32()),
        ("max_hold_bins", pa.int32()),
        ("warmup_bins", pa.int32()),
        ("tick_size", pa.float64()),
        ("n_bins", pa.int64()),
        ("eval_hours", pa.float64()),
        ("serving_spec_json", pa.string()),  # the full ServingSpec of this sweep point
        ("pipeline_spec_json", pa.string()),
        ("written_at_ns", pa.int64()),
    ]
)

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("threshold", pa.float64()),
        ("n_signals", pa.int64()),
        ("n_tp", pa.int64()),
        ("n_sl", pa.int64()),
        ("n_timeout", pa.int64()),
        ("tp_rate", pa.float64()),
        ("sl_rate", pa.float64()),
        ("timeout_rate", pa.float64()),
        ("mean_pnl_ticks", pa.float64()),
        ("events_per_hour", pa.float64()),
        # cumulative PnL (ticks) after each trade, indexed by entry bin (thinned if long)
        ("pnl_bins", pa.list_(pa.int64())),
        ("cum_pnl_ticks", pa.list_(pa.float64())),
        ("written_at_ns", pa.int64()),
    ]
)


# Metrics of one (run, threshold) row of ``runs``.
METRIC_KEYS = (
    "n_signals",
    "n_tp",
    "n_sl",
    "n_timeout",
    "tp_rate",
    "sl_rate",
    "timeout_rate",
    "mean_pnl_ticks",
    "events_per_hour",
)


class ResultsError(SpymasterError):
    """The results store is unreadable, or a run id is unknown."""


class UnknownRunError(ResultsError):
    """No run with this id in the results store (an HTTP 404, not a broken store)."""


def make_run_id(experiment: str, dataset_id: str, params: dict[str, Any]) -> str:
    """Deterministic run id from (experiment, dataset, every parameter of the point)."""
    return "r" + stable_short_hash(
        {"experiment": experiment, "dataset_id": dataset_id, "params": params}, 15
    )


def _atomic_write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(
    meta_rows: Sequence[dict[str, Any]],
    run_rows: Sequence[dict[str, Any]],
    *,
    root: Path | None = None,
) -> str:
    """Write one part (runs + runs_meta) atomically; returns its key.

    The key is a hash of the part's run ids: writing the same runs again replaces the same
    files (idempotent under task retries). ``runs`` is written before ``runs_meta`` so a
    reader that sees a run's metadata also sees its metrics.
    """
    if not meta_rows:
        return ""
    return write_result_tables(
        pa.Table.from_pylist(list(meta_rows), schema=_without_written_at(RUNS_META_SCHEMA)),
        pa.Table.from_pylist(list(run_rows), schema=_without_written_at(RUNS_SCHEMA)),
        root=root,
    )


def write_result_tables(meta: pa.Table, runs: pa.Table, *, root: Path | None = None) -> str:
    """``write_results`` from Arrow tables (the schemas without ``written_at_ns``, which is
    added here): the sweep builds its columns as arrays (``arrow_array``), not as one dict
    per row."""
    if meta.num_rows == 0:
        return ""
    base = root if root is not None else results_dir()
    key = stable_short_hash(sorted(meta.column("run_id").to_pylist()), 20)
    now = time.time_ns()
    tables = {}
    for kind, table, schema in (("runs", runs, RUNS_SCHEMA), ("runs_meta", meta, RUNS_META_SCHEMA)):
        stamped = table.append_column(
            "written_at_ns", arrow_array(np.full(table.num_rows, now), pa.int64())
        )
        try:
            tables[kind] = stamped.select(schema.names).cast(schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ResultsError(f"{kind} table does not match the results schema: {exc}") from None
    _atomic_write(tables["runs"], base / "runs" / f"part-{key}.parquet")
    _atomic_write(tables["runs_meta"], base / "runs_meta" / f"part-{key}.parquet")
    return key


_NUMPY_DTYPES = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float64(): np.float64}


def arrow_array(values: Sequence[str] | np.ndarray, type: pa.DataType) -> pa.Array:
    """A null-free Arrow array of ``type`` (string, int32, int64, float64) from a list of
    str or a numpy array, built from buffers: ``pa.array`` imports pandas on first use,
    1-3 s in every fresh Ray worker process that writes results."""
    if type == pa.string():
        encoded = [v.encode() for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        return pa.Array.from_buffers(type, len(encoded), buffers)
    if type not in _NUMPY_DTYPES:
        raise ResultsError(f"arrow_array: unsupported type {type}")
    data = np.ascontiguousarray(values, dtype=_NUMPY_DTYPES[type])
    if data.ndim != 1 or (pa.types.is_integer(type) and not np.array_equal(data, values)):
        raise ResultsError(f"arrow_array: values do not fit a 1-D {type} array")
    return pa.Array.from_buffers(type, len(data), [None, pa.py_buffer(data)])


def arrow_list_array(lengths: np.ndarray, values: np.ndarray, type: pa.DataType) -> pa.Array:
    """list<type> array whose i-th list is the next ``lengths[i]`` of ``values``."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.ListArray.from_arrays(arrow_array(offsets, pa.int32()), arrow_array(values, type))


def _without_written_at(schema: pa.Schema) -> pa.Schema:
    return schema.remove(schema.get_field_index("written_at_ns"))


def _read(kind: str, schema: pa.Schema, root: Path | None, filt: Any = None) -> pa.Table:
    base = (root if root is not None else results_dir()) / kind
    files = sorted(str(p) for p in base.glob("part-*.parquet")) if base.is_dir() else []
    if not files:
        return schema.empty_table()
    import pyarrow.dataset as pads  # imports pandas: only when reading

    try:
        ds = pads.dataset(files, schema=schema, format="parquet")
        return ds.to_table(filter=filt)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ResultsError(f"results store {base}: unreadable part file ({exc})") from None


def _newest(rows: Iterable[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    best: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in best or row["written_at_ns"] > best[k]["written_at_ns"]:
            best[k] = row
    return list(best.values())


def read_runs_meta(root: Path | None = None, filt: Any = None) -> list[dict[str, Any]]:
    return _newest(_read("runs_meta", RUNS_META_SCHEMA, root, filt).to_pylist(), ["run_id"])


def read_runs(
    root: Path | None = None, filt: Any = None, *, with_series: bool = False
) -> list[dict[str, Any]]:
    table = _read("runs", RUNS_SCHEMA, root, filt)
    if not with_series:
        table = table.drop_columns(["pnl_bins", "cum_pnl_ticks"])
    return _newest(table.to_pylist(), ["run_id", "threshold"])


def query_runs(
    signal: str | None = None,
    dataset_id: str | None = None,
    sort: str = "tp_rate",
    min_signals: int = 0,
    top_n: int = 50,
    *,
    experiment: str | None = None,
    root: Path | None = None,
) -> list[dict[str, Any]]:
    """Ranked (run, threshold) rows: metrics joined with run metadata, best first.

    Filters by signal name, dataset id, experiment and ``n_signals >= min_signals``; sorts
    descending by ``sort`` (one of :data:`SORT_KEYS`), ties broken by n_signals then run id.
    """
    if sort not in SORT_KEYS:
        raise ResultsError(f"sort must be one of {SORT_KEYS}, not {sort!r}")
    if top_n < 0 or min_signals < 0:
        raise ResultsError("top_n and min_signals must be non-negative")
    import pyarrow.dataset as pads

    filt = None
    for col, value in (
        ("signal_name", signal),
        ("dataset_id", dataset_id),
        ("experiment_name", experiment),
    ):
        if value is not None:
            cond = pads.field(col) == value
            filt = cond if filt is None else filt & cond
    meta = {r["run_id"]: r for r in read_runs_meta(root, filt)}
    if not meta:
        return []
    rows = []
    for r in read_runs(root, pads.field("n_signals") >= min_signals):
        m = meta.get(r["run_id"])
        if m is None:
            continue
        rows.append(
            {
                "run_id": r["run_id"],
                "experiment_name": m["experiment_name"],
                "dataset_id": m["dataset_id"],
                "signal_name": m["signal_name"],
                "threshold": r["threshold"],
                "tp_ticks": m["tp_ticks"],
                "sl_ticks": m["sl_ticks"],
                "cooldown_bins": m["cooldown_bins"],
                "scoring": json.loads(m["scoring_json"]),
                "signal_params": json.loads(m["signal_params_json"]),
                "signal_weights": json.loads(m["signal_weights_json"]),
                **{k: r[k] for k in ("n_signals", "tp_rate", "sl_rate", "timeout_rate")},
                "mean_pnl_ticks": r["mean_pnl_ticks"],
                "events_per_hour": r["events_per_hour"],
            }
        )
    rows.sort(key=lambda x: (-x[sort], -x["n_signals"], x["run_id"], x["threshold"]))
    return rows[:top_n]


def run_detail(run_id: str, *, root: Path | None = None) -> dict[str, Any]:
    """Everything about one run: params, metrics and PnL series per threshold, provenance."""
    import pyarrow.dataset as pads

    check_name(run_id, "run_id")
    metas = read_runs_meta(root, pads.field("run_id") == run_id)
    if not metas:
        raise UnknownRunError(f"unknown run_id {run_id!r} in {root or results_dir()}")
    m = metas[0]
    runs = sorted(
        read_runs(root, pads.field("run_id") == run_id, with_series=True),
        key=lambda r: r["threshold"],
    )
    thresholds = [
        {
            "threshold": r["threshold"],
            **{k: r[k] for k in METRIC_KEYS},
            "pnl_series": {"bins": r["pnl_bins"], "cum_pnl_ticks": r["cum_pnl_ticks"]},
        }
        for r in runs
    ]
    serving = json.loads(m["serving_spec_json"])
    pipeline = json.loads(m["pipeline_spec_json"])
    return {
        "run_id": run_id,
        "experiment_name": m["experiment_name"],
        "dataset_id": m["dataset_id"],
        "pipeline_name": m["pipeline_name"],
        "serving_name": m["serving_name"],
        "signal_name": m["signal_name"],
        "params": {
            "scoring": json.loads(m["scoring_json"]),
            "signal_params": json.loads(m["signal_params_json"]),
            "signal_weights": json.loads(m["signal_weights_json"]),
            "tp_ticks": m["tp_ticks"],
            "sl_ticks": m["sl_ticks"],
            "cooldown_bins": m["cooldown_bins"],
            "max_hold_bins": m["max_hold_bins"],
            "warmup_bins": m["warmup_bins"],
            "tick_size": m["tick_size"],
        },
        "n_bins": m["n_bins"],
        "eval_hours": m["eval_hours"],
        "thresholds": thresholds,
        "serving": serving,
        "pipeline": pipeline,
        "capture": pipeline.get("capture", {}),
    }
