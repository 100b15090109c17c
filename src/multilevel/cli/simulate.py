"""``multilevel simulate``: Type I error of each estimator under a true null, by simulation."""

from __future__ import annotations

import argparse
import json
import sys

from multilevel.cli.files import add_force_option, check_output

EXAMPLES = """examples:
  multilevel simulate --seed 1 --reps 500 --icc 0.2 --groups 50 --group-size 30 --level 2
  multilevel simulate --level 1 --reps 200 --jobs 2 --json
  multilevel simulate --reps 1000 --plot type1.png --estimators ols,ols_cluster_cr1,multilevel

Data are y = u_j + e_ij with var(u_j) = ICC, var(e_ij) = 1 - ICC, and a predictor x with no
effect; each replicate tests x = 0 at alpha with every estimator.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate nested data under a true null and report Type I error rates",
        description="Show the Type I error each estimator costs when nesting is ignored.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--reps", type=int, default=500, help="replicates (default 500)")
    p.add_argument("--icc", type=float, default=0.2, help="intraclass correlation (default 0.2)")
    p.add_argument("--groups", type=int, default=50, help="number of groups (default 50)")
    p.add_argument("--group-size", type=int, default=30, help="rows per group (default 30)")
    p.add_argument(
        "--level",
        type=int,
        choices=[1, 2],
        default=2,
        help="level of the null predictor (default 2)",
    )
    p.add_argument(
        "--x-icc",
        type=float,
        default=0.0,
        help="ICC of a level-1 predictor (default 0: no between-group part)",
    )
    p.add_argument("--alpha", type=float, default=0.05, help="test level (default 0.05)")
    p.add_argument("--estimators", help="comma-separated estimator names (default: all)")
    p.add_argument(
        "--jobs",
        "--n-jobs",
        dest="jobs",
        type=int,
        default=-1,
        help="worker processes (default -1: all cores)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--plot", metavar="FILE", help="write a plot of the rejection rates")
    add_force_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from multilevel.compare.simulate import SIM_ESTIMATORS, simulate_type1
    from multilevel.errors import DataError

    if args.plot:
        from multilevel.report.files import figure_format

        figure_format(args.plot)
        check_output(args.plot, [], args.force, "plot")
    names = SIM_ESTIMATORS
    if args.estimators:
        names = tuple(n.strip() for n in args.estimators.split(",") if n.strip())
    try:
        res = simulate_type1(
            level=args.level,
            icc=args.icc,
            n_groups=args.groups,
            group_size=args.group_size,
            reps=args.reps,
            alpha=args.alpha,
            seed=args.seed,
            x_icc=args.x_icc,
            estimators=names,
            n_jobs=args.jobs,
        )
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if args.plot:
        from multilevel.report.files import save_figure

        save_figure(res.plot(), args.plot, dpi=120)
    if args.json:
        json.dump(res.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(res.to_text() + "\n")
    return 0
