"""Wall time and peak memory of ``fit_large`` on a Parquet file larger than one would load.

    .venv/bin/python benchmarks/large_parquet.py --rows 10000000 --groups 100000 --model slope

writes (once) a Parquet file in row groups of ``--row-group`` rows, never holding more than one row
group in memory, drawn from the model of ``benchmarks/simulate.py`` (y ~ x1 + x2 + x3 + w +
(1 + x1 | g), w a group-level predictor), then fits it in a fresh process and reports the fit's
wall time, the time of the statistics pass, the peak resident memory of that process (and its
resident memory after the imports, before the data are touched), the file size, the estimates and
their distance from the truth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simulate import BETA, DECIMALS, FORMULAS, SIGMA, tau_matrix  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def write_parquet(
    path: Path, rows: int, groups: int, model: str, row_group: int, seed: int = 1
) -> None:
    """The simulated data, one row group at a time (memory: one row group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    T = tau_matrix(model)
    rng = np.random.default_rng(seed)
    w_g = np.round(rng.standard_normal(groups), DECIMALS)
    u = rng.standard_normal((groups, T.shape[0])) @ np.linalg.cholesky(T).T
    tmp = path.with_suffix(".tmp")
    writer = None
    try:
        for start in range(0, rows, row_group):
            m = min(row_group, rows - start)
            g = rng.integers(0, groups, size=m)
            if start == 0:
                k = min(groups, m)
                g[:k] = np.arange(k)  # every group present
            x = np.round(rng.standard_normal((m, 3)), DECIMALS)
            w = w_g[g]
            eta = BETA[0] + x @ BETA[1:4] + BETA[4] * w + u[g, 0]
            if T.shape[0] == 2:
                eta += u[g, 1] * x[:, 0]
            y = np.round(eta + SIGMA * rng.standard_normal(m), DECIMALS)
            table = pa.table(
                {
                    "g": g.astype(np.int64),
                    "x1": x[:, 0],
                    "x2": x[:, 1],
                    "x3": x[:, 2],
                    "w": w,
                    "y": y,
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(str(tmp), table.schema)
            writer.write_table(table, row_group_size=row_group)
    finally:
        if writer is not None:
            writer.close()
    tmp.rename(path)


def rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """User + system CPU seconds of this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fit_child(path: str, model: str, chunk_rows: int, reml: bool) -> None:
    """Run in a fresh process: fit and print one JSON record."""
    import warnings

    from multilevel.sources import fit_large

    base = current_rss_mb()
    t0 = time.perf_counter()
    c0 = cpu_s()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_large(FORMULAS[model], path, reml=reml, chunk_rows=chunk_rows, progress=False)
    wall = time.perf_counter() - t0
    cpu = cpu_s() - c0
    vc = fit.random_effects[0]
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "load_avg_1min": os.getloadavg()[0],
                "statistics_s": fit.timings.get("statistics"),
                "optimize_s": fit.timings.get("optimize"),
                "peak_rss_mb": rss_mb(),
                "rss_after_imports_mb": base,
                "n_obs": fit.n_obs,
                "n_groups": fit.n_groups,
                "loglik": fit.loglik,
                "beta": fit.beta.tolist(),
                "sigma": fit.sigma,
                "tau_sd": vc.std_devs.tolist(),
                "corr": vc.correlation.tolist(),
                "converged": fit.converged,
                "n_evaluations": fit.optimization.n_evaluations,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--groups", type=int, default=100_000)
    ap.add_argument("--model", choices=sorted(FORMULAS), default="slope")
    ap.add_argument("--row-group", type=int, default=1_000_000)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--ml", action="store_true", help="maximum likelihood (default REML)")
    ap.add_argument("--path", type=Path, default=None, help="Parquet file (made if absent)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    path = args.path or OUT / f"large_{args.model}_{args.rows}_{args.groups}.parquet"
    if args.child:
        fit_child(str(path), args.model, args.chunk_rows, not args.ml)
        return 0
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        write_parquet(path, args.rows, args.groups, args.model, args.row_group)
        print(f"wrote {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--path",
        str(path),
        "--model",
        args.model,
        "--chunk-rows",
        str(args.chunk_rows),
    ] + (["--ml"] if args.ml else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    size_mb = path.stat().st_size / 2**20
    raw_mb = args.rows * 6 * 8 / 2**20
    print(
        f"data: {args.rows:,} rows, {args.groups:,} groups, model {args.model} "
        f"({FORMULAS[args.model]}), {'ML' if args.ml else 'REML'}"
    )
    print(f"file: {size_mb:,.0f} MB Parquet ({raw_mb:,.0f} MB as float64 columns in memory)")
    print(
        f"fit_large: {rec['wall_s']:.2f} s wall, {rec['cpu_s']:.2f} s CPU, load average "
        f"{rec['load_avg_1min']:.1f} on {os.cpu_count()} cores "
        f"(statistics pass {rec['statistics_s']:.2f} s, "
        f"optimisation + inference {rec['optimize_s']:.2f} s, "
        f"{rec['n_evaluations']} deviance evaluations)"
    )
    print(
        f"peak RSS: {rec['peak_rss_mb']:,.0f} MB (after imports "
        f"{rec['rss_after_imports_mb']:,.0f} MB), chunk {args.chunk_rows:,} rows"
    )
    print(
        f"estimates: beta {np.round(rec['beta'], 4).tolist()} (truth {BETA.tolist()}), "
        f"tau SDs {np.round(rec['tau_sd'], 4).tolist()}, sigma {rec['sigma']:.4f} (truth "
        f"{SIGMA}), loglik {rec['loglik']:.4f}, converged {rec['converged']}"
    )
    print(
        json.dumps(
            {
                **rec,
                "rows": args.rows,
                "groups": args.groups,
                "model": args.model,
                "file_mb": size_mb,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
