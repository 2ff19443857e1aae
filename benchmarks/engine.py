"""Engine benchmark: decode, decode+book+features+grids, and `harness generate`.

Input: a synthetic MNQH6 session written by `spymaster synth` covering the default pipeline
(configs/pipelines/mnq_60m_baseline.yaml: 09:25-10:25 New York time, 60 minutes, 36,000 bins
of 101 rows) plus its 30-minute warmup. Prints the input and the figures:

  (a) records/s of decoding alone (our reader: databento-dbn metadata + numpy views), with
      databento's own DBNStore.to_ndarray as a peer;
  (b) records/s of decode + book + features + grids (FeatureEngine over the same chunks);
  (c) wall time of `harness generate` (fresh data root, a separate process), as this shell
      runs it and with cached bytecode (as the deploy image: imports not compiled per run);
  and the ratio (b)/(a).

Usage: uv run python benchmarks/engine.py [--workdir DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _exe(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _synth(path: Path) -> None:
    if path.exists():
        return
    subprocess.run(
        [_exe("spymaster"), "synth", "--symbol", "MNQH6", "--date", "2026-02-06",
         "--start", "08:54", "--end", "10:26", "--seed", "7", "-o", str(path)],
        check=True,
    )  # fmt: skip


def _pipeline(workdir: Path, source: Path) -> Path:
    spec = yaml.safe_load((REPO / "configs/pipelines/mnq_60m_baseline.yaml").read_text())
    spec["name"] = "bench_mnq_60m"
    spec["capture"]["source"] = str(source)
    path = workdir / "configs" / "pipelines" / "bench_mnq_60m.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _best(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (this process, all threads) over ``repeat`` runs."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/spymaster-bench-engine"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "synth-mnqh6-20260206.mbo.dbn.zst"
    _synth(source)
    pipeline_path = _pipeline(workdir, source)

    from spymaster_engine.core import run_engine
    from spymaster_shared.config import load_pipeline, resolve_engine_config
    from spymaster_shared.dbn.reader import iter_mbo, open_mbo
    from spymaster_shared.grid_frames import GridFrames

    spec = load_pipeline(pipeline_path)
    cfg = resolve_engine_config(spec)
    info = open_mbo(source)

    def decode() -> int:
        return sum(len(c) for c in iter_mbo(source, "MNQH6", reuse_buffer=True))

    def peer_decode() -> int:
        import databento

        return len(databento.DBNStore.from_file(source).to_ndarray())

    def engine() -> GridFrames:
        # as `harness generate` runs it: one reused input buffer, every bin into one
        # preallocated output buffer
        return run_engine(cfg, iter_mbo(source, "MNQH6", reuse_buffer=True))

    n_records = decode()  # also warms the page cache
    engine()  # warm numba caches so (b) measures steady state
    w_dec, t_dec, _ = _best(decode, args.repeat)
    w_peer, t_peer, _ = _best(peer_decode, args.repeat)
    w_eng, t_eng, frames = _best(engine, args.repeat)

    data_root = workdir / "lake"
    env = dict(os.environ, SPYMASTER_DATA_ROOT=str(data_root),
               SPYMASTER_CONFIG_ROOT=str(workdir / "configs"))  # fmt: skip
    shutil.copy(REPO / "configs/products.yaml", workdir / "configs/products.yaml")

    def generate(env: dict[str, str]) -> float:
        shutil.rmtree(data_root, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([_exe("harness"), "generate", str(pipeline_path), "-q"], env=env, check=True)
        return time.perf_counter() - t0

    t_gen = generate(env)
    # as deployed (deploy/Dockerfile: UV_COMPILE_BYTECODE=1): imports from cached bytecode,
    # here kept under the workdir; the first run fills that cache
    env_pyc = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env_pyc["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    generate(env_pyc)
    t_gen_pyc = generate(env_pyc)

    a, b = n_records / t_dec, n_records / t_eng
    print("input")
    print(f"  file        {source} ({source.stat().st_size / 1e6:.1f} MB, DBN v{info.version})")
    print(f"  records     {n_records:,} MNQH6 MBO records, 08:54-10:26 New York time")
    print(f"  pipeline    {spec.name}: capture {cfg.start_time}-{cfg.end_time}, warmup "
          f"{cfg.warmup_minutes:g} min, {frames.n_bins:,} bins x {frames.n_rows} rows")  # fmt: skip
    print(f"  machine     {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, best of {args.repeat}")  # fmt: skip
    print("figures")
    print(f"  load average at start: {os.getloadavg()[0]:.1f}; rates use CPU time (one core), "
          "wall in brackets")  # fmt: skip
    print(f"  (a) decode                     {a / 1e6:7.2f} M records/s  "
          f"({t_dec:.2f} s cpu, {w_dec:.2f} s wall)")  # fmt: skip
    print(f"      peer: databento DBNStore   {n_records / t_peer / 1e6:7.2f} M records/s  "
          f"({t_peer:.2f} s cpu, {w_peer:.2f} s wall)")  # fmt: skip
    print(f"  (b) decode+book+features+grid  {b / 1e6:7.2f} M records/s  "
          f"({t_eng:.2f} s cpu, {w_eng:.2f} s wall)")  # fmt: skip
    print(f"  (c) harness generate           {t_gen:7.2f} s wall (incl. process start, parquet, "
          "sha256)")  # fmt: skip
    no_pyc = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    print(f"      with cached bytecode       {t_gen_pyc:7.2f} s wall (as deployed; this shell has "
          f"PYTHONDONTWRITEBYTECODE={no_pyc!r})")  # fmt: skip
    print(f"  (b)/(a)                        {b / a:7.1%}")


if __name__ == "__main__":
    main()
