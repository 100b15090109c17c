"""``multilevel compare DATA FORMULA [--json] [--plot out.png]``: the alternatives side by side."""

from __future__ import annotations

import argparse
import sys

from multilevel.cli.files import add_force_option, check_output, data_inputs
from multilevel.cli.output import add_format_option, chosen, emit

EXAMPLES = """examples:
  multilevel compare hsb 'mathach ~ cses + meanses + catholic + (1 | school)'
  multilevel compare hsb.csv 'mathach ~ cses + meanses + (1 | school)' --json
  multilevel compare data.csv 'y ~ x' --group school --plot forest.png
  multilevel compare hsb 'mathach ~ cses + (1 | school)' --estimators ols,ols_cluster_cr1,multilevel

estimators: ols, ols_cluster_cr0, ols_cluster_hc0, ols_cluster_cr1, ols_cluster_cr2,
  fixed_effects, gee_exchangeable, gee_independence, one_per_group, multilevel
  (all but ols_cluster_cr2 by default)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare OLS, cluster-robust SEs, fixed effects, GEE and the multilevel model",
        description="Fit the mean model of an lme4 formula with the usual alternatives to a "
        "multilevel model and show estimates, SEs, 95% CIs, SE ratios to the multilevel "
        "SE and design effects.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument(
        "formula", help="lme4 formula with one clustering factor, e.g. 'y ~ x + (1 | group)'"
    )
    p.add_argument("--group", help="cluster column, if the formula has no random term")
    add_format_option(p)
    p.add_argument("--plot", metavar="FILE", help="write a forest plot (PNG, PDF, SVG)")
    p.add_argument("--estimators", help="comma-separated estimator names (default: all but CR2)")
    p.add_argument(
        "--draws",
        type=int,
        default=100,
        help="draws for the one-row-per-group estimator (default 100)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the draws (default 0)")
    p.add_argument("--ml", action="store_true", help="fit the multilevel model by ML, not REML")
    add_force_option(p)
    p.add_argument(
        "--family",
        choices=["gaussian", "binomial"],
        help="binomial: a 0/1 outcome (glm, glm_cluster_cr0/cr1, gee_*, one_per_group, "
        "multilevel logistic)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from multilevel.cli.fit import resolve_data
    from multilevel.compare.compare import DEFAULT_ESTIMATORS, compare_estimators
    from multilevel.errors import DataError

    if args.plot:
        from multilevel.report.files import figure_format

        figure_format(args.plot)
        check_output(args.plot, data_inputs(args.data), args.force, "forest plot")
    names = DEFAULT_ESTIMATORS
    if args.estimators:
        names = tuple(n.strip() for n in args.estimators.split(",") if n.strip())
    try:
        comp = compare_estimators(
            resolve_data(args.data),
            args.formula,
            group=args.group,
            estimators=names,
            draws=args.draws,
            seed=args.seed,
            reml=not args.ml,
            family=args.family,
        )
    except ValueError as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(str(exc)) from None
    if args.plot:
        from multilevel.report.files import save_figure

        save_figure(comp.plot(), args.plot, dpi=120)
        if args.family == "binomial" and "multilevel" in comp.names:  # hook: GLMMs (#12)
            from pathlib import Path

            from multilevel.compare.glm import attenuation_plot

            path = Path(args.plot)
            extra = path.with_name(f"{path.stem}-attenuation{path.suffix}")
            marginal = next((n for n in ("gee_exchangeable", "glm") if n in comp.names), None)
            if marginal is not None:
                save_figure(attenuation_plot(comp, marginal), str(extra), dpi=120)
                sys.stdout.write(f"attenuation plot written to {extra}\n")
    fmt = chosen(args)
    emit(comp, fmt)
    if args.plot and fmt == "text":
        sys.stdout.write(f"\nforest plot written to {args.plot}\n")
    return 0
