"""Where multilevel.fit spends its time: cProfile of one fit on a benchmark data set.

    python benchmarks/profile_fit.py [--size M] [--model slope] [--method ml] [--top 25]
    python benchmarks/profile_fit.py --insteval [--method ml]

Prints the top functions by cumulative and by own time (PYTHONPATH selects another source tree,
e.g. one exported by ``run.py --at-commit``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import simulate  # noqa: E402

INSTEVAL = Path(__file__).resolve().parents[2] / "shared" / "bench" / "insteval.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="M", choices=sorted(simulate.SIZES))
    ap.add_argument("--model", default="slope", choices=sorted(simulate.FORMULAS))
    ap.add_argument("--method", default="ml", choices=["ml", "reml"])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--insteval",
        metavar="CSV",
        nargs="?",
        const=str(INSTEVAL),
        help="profile the crossed InstEval model instead",
    )
    args = ap.parse_args(argv)

    import multilevel

    if args.insteval:
        source = args.insteval
        df = pd.read_csv(source)
        for f in ("s", "d", "dept"):
            df[f] = df[f].astype(str).astype("category")
        formula = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
    else:
        source = simulate.write(args.size, args.model, args.seed, csv=False)["parquet"]
        df = pd.read_parquet(source)
        formula = simulate.FORMULAS[args.model]
    print(f"multilevel from {Path(multilevel.__file__).parent}; {formula} on {source}")
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    m = multilevel.fit(formula, df, reml=args.method == "reml", warn=False)
    prof.disable()
    print(
        f"fit: {time.perf_counter() - t0:.3f} s (under cProfile), loglik {m.loglik!r}, "
        f"{m.optimization.n_evaluations} evaluations, {m.optimization.optimizer}"
    )
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
        print(f"\n## top {args.top} by {key}\n" + out.getvalue().split("\n", 4)[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
