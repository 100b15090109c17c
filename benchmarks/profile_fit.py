"""Where multilevel.fit spends its time: cProfile of one fit on a benchmark data set.

    python benchmarks/profile_fit.py [--size M] [--model slope] [--method ml] [--top 25]
    python benchmarks/profile_fit.py --insteval [--method ml]
    python benchmarks/profile_fit.py --insteval --split

Prints the top functions by cumulative and by own time (PYTHONPATH selects another source tree,
e.g. one exported by ``run.py --at-commit``). ``--split`` instead times the steps of the fit in
a fresh process, CPU (``time.process_time``) and wall seconds: importing multilevel, reading
the CSV, coding the factors, the design, the cross-products, the deviance's set-up, the
optimizer, the convergence check (its Hessian) and the result (conditional modes), with the
number and mean cost of the deviance evaluations.
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

INSTEVAL = (
    next(
        (
            d / "shared" / "bench"
            for d in Path(__file__).resolve().parents
            if (d / "shared" / "bench").is_dir()
        ),
        Path(__file__).resolve().parents[2] / "shared" / "bench",
    )
    / "insteval.csv"
)
INSTEVAL_FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


class Laps:
    """CPU and wall seconds between calls, printed as a table row each."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def __call__(self, label: str) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        print(f"| {label} | {cpu - self.cpu:.3f} | {wall - self.wall:.3f} |", flush=True)
        self.cpu, self.wall = cpu, wall


def split(path: str, reml: bool) -> int:
    """The fit's steps one by one, as ``multilevel.fit`` chains them (fitting.fit_statistics)."""
    lap = Laps()
    print("| step | CPU s | wall s |\n|---|---:|---:|")
    import numpy as np

    import multilevel
    from multilevel import fitting
    from multilevel.design.weights import working_design
    from multilevel.objective import ProfiledDeviance, cross_products
    from multilevel.optimize.threads import kernel_threads

    lap("import multilevel (pandas already loaded)")
    df = pd.read_csv(path)
    lap("read the CSV (pandas)")
    for f in ("s", "d", "dept"):
        df[f] = df[f].astype(str).astype("category")
    lap("ids to text categoricals (as benchmarks/tools.py)")
    design = multilevel.design.build_design(INSTEVAL_FORMULA, df)
    lap("design (R factor codes, X, Z)")
    xp = cross_products(working_design(design))
    lap("cross-products")
    costs: list[float] = []
    with kernel_threads(xp.n_rest, xp.p):
        lap("BLAS thread choice")
        dev = ProfiledDeviance(xp, reml=reml)
        lap("deviance set-up (pattern of the Schur complement)")
        name = "_evaluate" if hasattr(dev, "_evaluate") else "evaluate"  # older trees: no cache
        evaluate = getattr(dev, name)

        def timed(theta: np.ndarray):  # noqa: ANN202 - the evaluation, timed
            c = time.process_time()
            out = evaluate(theta)
            costs.append(time.process_time() - c)
            return out

        setattr(dev, name, timed)
        opt = fitting.optimize_lmm(dev, xp, design.layout)
        lap(f"optimizer ({len(costs)} evaluations incl. 2 for the start)")
        n = len(costs)
        ev, info, checked = fitting.check_fit(dev, opt, xp, design.layout)
        lap(f"convergence check: Hessian, Newton step ({len(costs) - n} evaluations)")
        n = len(costs)
        fit = fitting.make_fit(dev, ev, info, checked, design.layout, design=design)
        lap(f"result: modes, Satterthwaite df ({len(costs) - n} evaluations)")
    print(
        f"\n{len(costs)} evaluations, {1000 * np.mean(costs):.1f} ms CPU each (median "
        f"{1000 * np.median(costs):.1f}); loglik {fit.loglik!r}, theta {fit.theta.tolist()}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="M", choices=sorted(simulate.SIZES))
    ap.add_argument("--model", default="slope", choices=sorted(simulate.FORMULAS))
    ap.add_argument("--method", default="ml", choices=["ml", "reml"])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", action="store_true", help="time the steps (InstEval), no profile")
    ap.add_argument(
        "--insteval",
        metavar="CSV",
        nargs="?",
        const=str(INSTEVAL),
        help="profile the crossed InstEval model instead",
    )
    args = ap.parse_args(argv)
    if args.split:
        return split(args.insteval or str(INSTEVAL), args.method == "reml")

    import multilevel

    if args.insteval:
        source = args.insteval
        df = pd.read_csv(source)
        for f in ("s", "d", "dept"):
            df[f] = df[f].astype(str).astype("category")
        formula = INSTEVAL_FORMULA
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
